use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &alimtalk_sender::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            dead_letters: Some(bnb_aws_sqs::dead_letters),
            dealer: Some(bnb_nhn_bizmessage::dealer),
            secret: Some(bnb_aws_ssm::secret),
            ..Default::default()
        },
    )
    .await
}
