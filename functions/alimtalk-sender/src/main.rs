use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &alimtalk_sender::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            dead_letters: Some(bnb_aws_sqs::dead_letters),
            dealer: Some(|config, settings| {
                let secret_key = bnb_aws_ssm::secret(config, settings.secret_key_parameter.clone());
                bnb_nhn_bizmessage::dealer(settings, secret_key)
            }),
            ..Default::default()
        },
    )
    .await
}
