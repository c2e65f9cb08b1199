use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(&republish_outbox::FUNCTION, AwsAdapters { table: Some(bnb_aws_dynamodb::tables), topic: Some(bnb_aws_sns::topic), ..Default::default() }).await
}
