use bnb_lambda::{run, AwsAdapters, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(&enrol_guest::FUNCTION, AwsAdapters { user_pools: Some(bnb_aws_cognito::user_pools), ..Default::default() }).await
}
