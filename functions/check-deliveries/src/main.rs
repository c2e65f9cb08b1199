use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &check_deliveries::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            dealer: Some(|config, settings| {
                let secret_key = bnb_aws_ssm::secret(config, settings.secret_key_parameter.clone());
                bnb_nhn_bizmessage::dealer(settings, secret_key)
            }),
            ..Default::default()
        },
    )
    .await
}
