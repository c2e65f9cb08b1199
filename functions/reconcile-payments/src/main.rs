use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &reconcile_payments::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            payment_provider: Some(|settings, secret_key| bnb_toss_payments::provider(settings.endpoint, secret_key)),
            secret: Some(bnb_aws_ssm::secret),
            ..Default::default()
        },
    )
    .await
}
