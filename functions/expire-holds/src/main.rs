use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(&expire_holds::FUNCTION, AwsAdapters { table: Some(bnb_aws_dynamodb::tables), ..Default::default() }).await
}
