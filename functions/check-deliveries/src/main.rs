use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &check_deliveries::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            dealer: Some(bnb_nhn_bizmessage::dealer),
            secret: Some(bnb_aws_ssm::secret),
            ..Default::default()
        },
    )
    .await
}
