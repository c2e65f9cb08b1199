//! One real request through each AWS adapter's client, built exactly as a function's main builds
//! it (`bnb_lambda::aws::aws_sdk_config` from the environment, then the adapter function the main
//! hands to `AwsAdapters`), against moto. The SDK crates are built without default features, so a
//! missing HTTP client or runtime feature would fail here, not on Lambda.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bnb_contexts::messaging::{Attributes, Queue};
use bnb_contexts::payments::InvokeError;
use bnb_contexts::storage::{Key, Table};
use bnb_lambda::run::warm_up;

#[tokio::test]
async fn every_adapter_client_makes_a_real_request_as_a_function_builds_it() {
    let moto = support::moto_url();
    // What the environment gives a function (scripts/test.sh exports the region and throwaway
    // credentials); the other test here names its endpoint explicitly, so this races with nothing.
    std::env::set_var("AWS_ENDPOINT_URL", &moto);
    let config = bnb_lambda::aws::aws_sdk_config().await;

    // DynamoDB: the table a function's main builds, reading a missing item.
    let created = support::moto_table(bnb_contexts::tables::rooms()).await;
    let table = bnb_aws_dynamodb::tables(&config)(bnb_contexts::tables::ROOMS.named(created.name()));
    assert_eq!(table.get(&Key::new("ROOM#none", "ROOM")).await.expect("GetItem over the SDK's HTTPS client"), None);

    // SNS: a topic.
    let name = support::unique("clients");
    let arn = bnb_aws_sns::SnsTopic::ensure(&config, &name).await.expect("CreateTopic").arn().to_owned();
    let topic = bnb_aws_sns::topic(&config, arn);
    assert!(!topic.publish("{}", &Attributes::from([("eventType".to_owned(), "Probe".to_owned())])).await.expect("Publish").is_empty());

    // SSM: the dealer's secret key, a SecureString read decrypted, once.
    let parameter = format!("/{name}/alimtalk/secret-key");
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(&parameter)
        .value("nhn-secret-key")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("PutParameter");
    let secret = bnb_aws_ssm::secret(&config, parameter.clone());
    assert_eq!(secret.secret().await.expect("GetParameter(WithDecryption)").expose(), "nhn-secret-key");
    let missing = bnb_aws_ssm::secret(&config, format!("/{name}/no-such-parameter"));
    let error = missing.secret().await.expect_err("a parameter that does not exist");
    assert!(!error.to_string().contains("nhn-secret-key") && error.to_string().contains("no-such-parameter"), "{error}");

    // Cognito: a user joins a group (twice: the second changes nothing), and a missing user is named.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let pool = cognito.create_user_pool().pool_name(&name).send().await.expect("CreateUserPool").user_pool.unwrap().id.unwrap();
    for group in ["guest", "host"] {
        cognito.create_group().user_pool_id(&pool).group_name(group).send().await.expect("CreateGroup");
    }
    cognito.admin_create_user().user_pool_id(&pool).username("minho").send().await.expect("AdminCreateUser");
    let directory = bnb_aws_cognito::user_pools(&config).pool(&pool);
    directory.add_to_group("minho", bnb_contexts::identity::Group::Guest).await.expect("AdminAddUserToGroup");
    directory.add_to_group("minho", bnb_contexts::identity::Group::Host).await.expect("AdminAddUserToGroup");
    directory.add_to_group("minho", bnb_contexts::identity::Group::Host).await.expect("AdminAddUserToGroup again");
    let groups = cognito.admin_list_groups_for_user().user_pool_id(&pool).username("minho").send().await.expect("AdminListGroupsForUser");
    let mut names: Vec<String> = groups.groups().iter().filter_map(|g| g.group_name().map(str::to_owned)).collect();
    names.sort();
    assert_eq!(names, ["guest", "host"]);
    assert_eq!(
        directory.add_to_group("nobody", bnb_contexts::identity::Group::Guest).await,
        Err(bnb_contexts::identity::DirectoryError::NoSuchUser("nobody".into()))
    );

    // SQS: a consumer's dead letters, by URL.
    let queue = bnb_aws_sqs::SqsQueue::ensure(&config, &name, 30, None).await.expect("CreateQueue");
    let dead_letters = bnb_aws_sqs::dead_letters(&config, queue.url().to_owned());
    dead_letters.dead_letter("{\"probe\":true}", &Attributes::new()).await.expect("SendMessage");
    let received = queue.receive(10).await.expect("ReceiveMessage");
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, "{\"probe\":true}");

    // Lambda: the payment call reaches the service, which knows no such function.
    let payments = bnb_aws_lambda::payments(&config, "no-such-function".to_owned());
    match payments.invoke(&serde_json::json!({}), Duration::from_secs(10)).await {
        Err(InvokeError::Failed(reason)) => assert!(reason.contains("ResourceNotFound") || reason.contains("not found"), "{reason}"),
        other => panic!("expected the service to answer that there is no such function, got {other:?}"),
    }
}

#[tokio::test]
async fn warming_a_connection_never_stops_a_function() {
    let moto = support::moto_url();
    let config = bnb_lambda::aws::aws_sdk_config_for(&moto).await;
    let created = support::moto_table(bnb_contexts::tables::rooms()).await;
    let reachable = bnb_aws_dynamodb::tables(&config)(bnb_contexts::tables::ROOMS.named(created.name()));
    // A port nothing listens on: the warm-up read fails, and warm_up returns all the same.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let nowhere = bnb_lambda::aws::aws_sdk_config_for(&format!("http://{closed}")).await;
    let unreachable = bnb_aws_dynamodb::tables(&nowhere)(bnb_contexts::tables::rooms());
    let tables: Vec<Arc<dyn Table>> = vec![reachable, unreachable];
    tokio::time::timeout(Duration::from_secs(30), warm_up(&tables)).await.expect("warm_up is bounded by its own timeout");
}

/// A function that pays through Toss reads the provider's secret key from SSM in its init, as
/// issue 17 asks, and keeps it: a payment confirmed after the parameter is gone still carries
/// the key. A key SSM cannot give in init does not stop the function: its first call reads it.
#[tokio::test]
async fn a_providers_secret_key_is_read_in_init_and_kept() {
    use bnb_contexts::payments::provider::{Confirm, ProviderStatus, TOSS_ENDPOINT, TOSS_SECRET_KEY_PARAMETER};
    use bnb_contexts::payments::ProviderKind;
    use bnb_lambda::Resources;

    let moto = support::moto_url();
    let config = bnb_lambda::aws::aws_sdk_config_for(&moto).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let toss = support::toss::TossServer::start().await;
    let parameter = format!("/{}/toss/secret-key", support::unique("init"));
    // Only this test reads these two variables.
    std::env::set_var(TOSS_ENDPOINT, &toss.url);
    std::env::set_var(TOSS_SECRET_KEY_PARAMETER, &parameter);
    let adapters = bnb_lambda::AwsAdapters {
        payment_provider: Some(|settings, secret_key| bnb_toss_payments::provider(settings.endpoint, secret_key)),
        secret: Some(bnb_aws_ssm::secret),
        ..Default::default()
    };
    let confirm = |order_id: &str, payment_key: String| Confirm {
        payment_key,
        order_id: order_id.to_owned(),
        amount: 120_000,
        idempotency_key: format!("r-{order_id}"),
        correlation_id: "c-init".into(),
    };

    let put_key = || async {
        let put = ssm.put_parameter().name(&parameter).value(support::toss::SECRET_KEY);
        put.r#type(aws_sdk_ssm::types::ParameterType::SecureString).send().await.expect("PutParameter");
    };

    // The key is in SSM when the function starts; init reads it; then it is deleted.
    put_key().await;
    let resources = bnb_lambda::run::AwsResources::new(config.clone(), adapters, "process-payment");
    let provider = resources.payment_provider(ProviderKind::Toss).expect("the Toss adapter links");
    let secrets = resources.linked_secrets();
    assert_eq!(secrets.len(), 1, "the provider's key is the one secret the function holds");
    bnb_lambda::run::read_secrets(&secrets).await;
    ssm.delete_parameter().name(&parameter).send().await.expect("DeleteParameter");
    let charged = provider.confirm(&confirm("order-init-1", toss.authorize("order-init-1", 120_000))).await.expect("confirmed with the key read in init");
    assert_eq!(charged.status, ProviderStatus::Done);

    // SSM has no such parameter when the function starts: init logs and goes on, and the first
    // call reads the key, now that it is there.
    let resources = bnb_lambda::run::AwsResources::new(config.clone(), adapters, "process-payment");
    let provider = resources.payment_provider(ProviderKind::Toss).expect("the Toss adapter links");
    tokio::time::timeout(Duration::from_secs(30), bnb_lambda::run::read_secrets(&resources.linked_secrets()))
        .await
        .expect("reading secrets in init is bounded by its own timeout");
    put_key().await;
    let charged = provider.confirm(&confirm("order-init-2", toss.authorize("order-init-2", 120_000))).await.expect("confirmed with the key read at first use");
    assert_eq!(charged.status, ProviderStatus::Done);
}
