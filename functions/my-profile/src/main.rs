use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(&my_profile::FUNCTION, AwsAdapters { table: Some(bnb_aws_dynamodb::tables), ..Default::default() }).await
}
