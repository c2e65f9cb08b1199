use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &reconcile_payments::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            payment_provider: Some(|config, settings| {
                bnb_toss_payments::provider(settings.endpoint, bnb_aws_ssm::secret(config, settings.secret_key_parameter))
            }),
            ..Default::default()
        },
    )
    .await
}
