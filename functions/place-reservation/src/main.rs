use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(&place_reservation::FUNCTION, AwsAdapters { table: Some(bnb_aws_dynamodb::tables), payments: Some(bnb_aws_lambda::payments), ..Default::default() })
        .await
}
