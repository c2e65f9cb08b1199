use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(
        &notification_handler::FUNCTION,
        AwsAdapters {
            table: Some(bnb_aws_dynamodb::tables),
            topic: Some(bnb_aws_sns::topic),
            dead_letters: Some(bnb_aws_sqs::dead_letters),
            ..Default::default()
        },
    )
    .await
}
