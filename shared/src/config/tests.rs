//! The composition root's tests: what `from_env` wires, and which variable a misconfiguration names.

use super::secrets::jwt_secret;
use super::*;
use crate::config::env::test_env as env;

#[tokio::test]
async fn no_configuration_means_every_port_embedded_and_a_kept_secret() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(&[("PETRAF_DATA_DIR", dir.path().to_str().unwrap())]);
    let app = from_env(&e).await.unwrap();
    assert_eq!(app.store.name(), "embedded-sqlite");
    assert_eq!(app.model.provider(), "offline");
    let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
    let again = jwt_secret(&e, dir.path()).unwrap();
    assert_eq!(
        secret.as_bytes(),
        again.as_slice(),
        "the generated secret survives restarts"
    );
}

#[tokio::test]
async fn misconfigurations_name_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases = [
        (
            env(&[("PETRAF_DATA_DIR", d), ("PETRAF_STATE_STORE", "mongo")]),
            "PETRAF_STATE_STORE",
        ),
        (
            env(&[("PETRAF_DATA_DIR", d), ("PETRAF_MODEL_PROVIDER", "hal9000")]),
            "PETRAF_MODEL_PROVIDER",
        ),
        (
            env(&[("PETRAF_DATA_DIR", d), ("PETRAF_JWT_SECRET", "short")]),
            "PETRAF_JWT_SECRET",
        ),
        (
            env(&[
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_PLATFORM_ADMIN_KEY", "short"),
            ]),
            "PETRAF_PLATFORM_ADMIN_KEY",
        ),
        (
            env(&[("PETRAF_DATA_DIR", d), ("PETRAF_TURN_LEASE_SECONDS", "0")]),
            "PETRAF_TURN_LEASE_SECONDS",
        ),
        // Fault injection never wraps a real model.
        (
            env(&[
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("OPENAI_API_KEY", "sk-test"),
                ("PETRAF_TEST_PANIC_PHRASE", "PANIC-NOW"),
            ]),
            "PETRAF_TEST_PANIC_PHRASE",
        ),
    ];
    for (e, variable) in cases {
        match from_env(&e).await {
            Err(err) => assert_eq!(err.variable, variable),
            Ok(_) => panic!("{variable} should have been refused"),
        }
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-jwt";

#[tokio::test]
async fn inside_lambda_a_missing_setting_is_named_instead_of_falling_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "petraf-session");
    let cases = [
        (
            env(&[lambda, ("PETRAF_DATA_DIR", d)]),
            Uses::GOALS,
            "PETRAF_STATE_STORE",
        ),
        (
            env(&[
                lambda,
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_STATE_STORE", "embedded"),
            ]),
            Uses::GOALS,
            "PETRAF_JWT_SECRET_ARN",
        ),
        (
            env(&[
                lambda,
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_STATE_STORE", "embedded"),
                ("PETRAF_JWT_SECRET", SECRET),
            ]),
            Uses::SESSIONS,
            "PETRAF_MODEL_PROVIDER",
        ),
        (
            env(&[
                lambda,
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_STATE_STORE", "embedded"),
                ("PETRAF_JWT_SECRET", SECRET),
            ]),
            Uses::CHAT,
            "PETRAF_MODEL_PROVIDER",
        ),
        (
            env(&[
                lambda,
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_STATE_STORE", "embedded"),
                ("PETRAF_MODEL_PROVIDER", "offline"),
                ("PETRAF_JWT_SECRET", SECRET),
            ]),
            Uses::CHAT,
            "PETRAF_VECTOR_STORE",
        ),
        (
            env(&[
                lambda,
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_STATE_STORE", "embedded"),
                ("PETRAF_VECTOR_STORE", "embedded"),
                ("PETRAF_MODEL_PROVIDER", "offline"),
            ]),
            Uses::DROP_FOLDER,
            "PETRAF_DOCUMENT_BUCKET",
        ),
        (
            env(&[
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_JWT_SECRET", SECRET),
                (
                    "PETRAF_JWT_SECRET_ARN",
                    "arn:aws:secretsmanager:us-east-1:1:secret:j",
                ),
            ]),
            Uses::SESSIONS,
            "PETRAF_JWT_SECRET",
        ),
    ];
    for (e, uses, variable) in cases {
        match from_env_for(&e, uses).await {
            Err(err) => assert_eq!(err.variable, variable, "{e:?}"),
            Ok(_) => panic!("{variable} should have been required: {e:?}"),
        }
    }
}

#[tokio::test]
async fn the_session_function_embeds_what_a_saved_profile_needs() {
    // PUT /api/session/{id}/info embeds each phase's first retrieval
    // query; with an unwired embedder it would quietly skip them.
    let dir = tempfile::tempdir().unwrap();
    let e = env(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "petraf-session"),
        ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
        ("PETRAF_STATE_STORE", "embedded"),
        ("PETRAF_MODEL_PROVIDER", "offline"),
        ("PETRAF_JWT_SECRET", SECRET),
    ]);
    let app = from_env_for(&e, Uses::SESSIONS).await.unwrap();
    assert!(
        app.embedder
            .embed(&["Software Engineer".into()])
            .await
            .is_ok()
    );
    assert!(
        app.vectors.search("t", &[], &[1.0], 3).await.is_err(),
        "and no vector store: it embeds, it does not search"
    );
}

#[tokio::test]
async fn a_function_wires_only_what_it_uses_and_names_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "petraf-goals"),
        ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
        ("PETRAF_STATE_STORE", "embedded"),
        ("PETRAF_VECTOR_STORE", "pgvector"),
        ("PETRAF_MODEL_PROVIDER", "bedrock"),
        ("PETRAF_DOCUMENT_BUCKET", "documents"),
        ("PETRAF_JWT_SECRET", SECRET),
    ]);
    let app = from_env_for(&e, Uses::GOALS).await.unwrap();
    assert_eq!(app.store.name(), "embedded-sqlite");
    assert_eq!(app.vectors.name(), "pgvector");
    assert_eq!(app.objects.name(), "s3");
    assert_eq!(app.model.provider(), "bedrock");
    assert!(app.embedder.embed(&["x".into()]).await.is_err());
    assert!(
        app.secrets.platform_admin_key_hash.is_none(),
        "only the admin function holds the platform key"
    );
}

#[tokio::test]
async fn the_offline_embedder_takes_the_configured_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(&[
        ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
        ("PETRAF_EMBEDDING_DIMENSION", "1024"),
    ]);
    let app = from_env(&e).await.unwrap();
    assert_eq!(app.embedder.dimension(), 1024);
    assert_eq!(
        app.embedder.embed(&["values".into()]).await.unwrap()[0].len(),
        1024
    );
}

#[cfg(feature = "aws-sdk")]
#[test]
fn the_aws_sdk_trusts_amazon_roots_unless_the_operator_names_a_trust_store() {
    use crate::adapters::tls::AwsTrust;
    assert_eq!(trust::aws_trust(&env(&[])), AwsTrust::AmazonRoots);
    for variable in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        assert_eq!(
            trust::aws_trust(&env(&[(variable, "/etc/pki/corporate")])),
            AwsTrust::System,
            "{variable}"
        );
    }
}

#[cfg(feature = "staging-transfer")]
#[test]
fn the_extract_function_accepts_the_document_buckets_urls_only() {
    use crate::extraction::staging::StagingBucket;
    let bucket = "petraf-documents-1-eu-west-1";
    assert_eq!(
        staging_bucket(&env(&[
            ("PETRAF_DOCUMENT_BUCKET", bucket),
            ("AWS_REGION", "eu-west-1")
        ]))
        .unwrap(),
        StagingBucket::on_aws(bucket, "eu-west-1")
    );
    assert_eq!(
        staging_bucket(&env(&[
            ("PETRAF_DOCUMENT_BUCKET", bucket),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]))
        .unwrap(),
        StagingBucket::at_endpoint("http://127.0.0.1:5000", bucket)
    );
    let missing = staging_bucket(&env(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
    assert_eq!(missing.variable, "PETRAF_DOCUMENT_BUCKET");
    let no_region = staging_bucket(&env(&[("PETRAF_DOCUMENT_BUCKET", bucket)])).unwrap_err();
    assert_eq!(no_region.variable, "AWS_REGION");
}
