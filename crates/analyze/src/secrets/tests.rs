//! Case tables for secret detection and redaction, including prose and code that must stay clean.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::{Detection, prepare, redact, scan};

fn kinds(text: &str) -> Vec<String> {
    scan(text).into_iter().map(|d| d.kind).collect()
}

fn secret_of(text: &str) -> Vec<&str> {
    scan(text)
        .iter()
        .map(|d| &text[d.start..d.end])
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

#[test]
fn provider_tokens_are_detected() {
    let cases = [
        (
            "key AKIAIOSFODNN7EXAMPLE here",
            "aws_access_key_id",
            "AKIAIOSFODNN7EXAMPLE",
        ),
        (
            "ASIAY34FZKBOKMUTVV7A",
            "aws_access_key_id",
            "ASIAY34FZKBOKMUTVV7A",
        ),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (
            "AWS_SECRET_ACCESS_KEY=\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
            "aws_secret_access_key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (
            "token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok",
            "github_token",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        ),
        (
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "github_token",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        ),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab",
            "github_token",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab",
        ),
        (
            "glpat-xxXXyyYYzz0123456789",
            "gitlab_token",
            "glpat-xxXXyyYYzz0123456789",
        ),
        (
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "slack_token",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        (
            "post to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX now",
            "slack_webhook",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        ),
        (
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "stripe_key",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "stripe_key",
            "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
            "openai_api_key",
            "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
        ),
        (
            "sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zT3BlbkFJ",
            "openai_api_key",
            "sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zT3BlbkFJ",
        ),
        (
            "x-api-key: sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_0-AA",
            "anthropic_api_key",
            "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_0-AA",
        ),
        (
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ),
        (
            "postgres://admin:S3cr3tPassw0rd@db.example.com/app",
            "url_password",
            "S3cr3tPassw0rd",
        ),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
            "azure_connection_string",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
        ),
        (
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
            "azure_storage_key",
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        ),
        ("password=Xk9#mP2$vL7q", "generic_secret", "Xk9#mP2$vL7q"),
        (
            "\"client_secret\": \"9f8a7B6c5D4e3F2a1b0C\"",
            "generic_secret",
            "9f8a7B6c5D4e3F2a1b0C",
        ),
        (
            "api_key: 3f9aK2mQ8zR1tY7w",
            "generic_secret",
            "3f9aK2mQ8zR1tY7w",
        ),
    ];
    for (text, kind, secret) in cases {
        let found = scan(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert_eq!(found[0].kind, kind, "{text}");
        assert_eq!(&text[found[0].start..found[0].end], secret, "{text}");
    }
}

#[test]
fn pem_and_service_account_keys() {
    let pem = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----\nafter";
    assert_eq!(kinds(pem), vec!["private_key"]);
    assert!(secret_of(pem)[0].ends_with("-----END RSA PRIVATE KEY-----"));
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(kinds(openssh), vec!["private_key"]);
    let truncated = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    assert_eq!(kinds(truncated), vec!["private_key"]);
    let gcp = r#"{"type": "service_account", "private_key_id": "abc", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n-----END PRIVATE KEY-----\n", "client_email": "x@y.iam.gserviceaccount.com"}"#;
    let found = kinds(gcp);
    assert!(
        found.contains(&"private_key".to_owned())
            || found.contains(&"gcp_service_account_key".to_owned()),
        "{found:?}"
    );
    let redacted = redact(gcp, &scan(gcp));
    assert!(
        !redacted.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC"),
        "{redacted}"
    );
}

#[test]
fn prose_and_code_stay_clean() {
    let clean = [
        "The password must be at least 12 characters long.",
        "Please reset your token: click the link in the email.",
        "let password = get_password_from_vault();",
        "password = self.password",
        "api_key = os.environ[\"API_KEY\"]",
        "token = process.env.GITHUB_TOKEN",
        "password: ${DB_PASSWORD}",
        "secret: {{ .Values.secret }}",
        "password=changeme",
        "password=hunter2",
        "AKIA is the prefix of AWS access keys",
        "the sk-learn library is great",
        "sk-this-is-not-a-real-key-at-all",
        "See https://example.com/docs?page=2 for details",
        "git clone https://github.com/org/repo.git",
        "postgres://localhost/app",
        "postgres://user:${PGPASSWORD}@db/app",
        "eyJ is how base64 JSON starts",
        "The function returns a token_count of 1234567890.",
        "fn main() { println!(\"hello\"); }",
        "SELECT id, name FROM users WHERE token_type = 'bearer'",
        "commit 3f9a2b1c4d5e6f708192a3b4c5d6e7f8091a2b3c",
        "uuid: 123e4567-e89b-12d3-a456-426614174000",
    ];
    for text in clean {
        assert_eq!(scan(text), Vec::<Detection>::new(), "{text}");
    }
}

#[test]
fn redaction_replaces_every_span() {
    let text = "aws AKIAIOSFODNN7EXAMPLE and ghp_16C7e42F292c6912E7710c838347Ae178B4a end";
    let found = scan(text);
    assert_eq!(found.len(), 2);
    assert_eq!(
        redact(text, &found),
        "aws [REDACTED:aws_access_key_id] and [REDACTED:github_token] end"
    );
}

#[test]
fn redaction_tolerates_bad_spans() {
    let text = "héllo secret";
    let bad = [
        Detection {
            kind: "x".into(),
            start: 2,
            end: 3,
        },
        Detection {
            kind: "y".into(),
            start: 5,
            end: 500,
        },
        Detection {
            kind: "z".into(),
            start: 7,
            end: 7,
        },
    ];
    assert_eq!(redact(text, &bad), text);
    let overlapping = [
        Detection {
            kind: "a".into(),
            start: 0,
            end: 5,
        },
        Detection {
            kind: "b".into(),
            start: 3,
            end: 9,
        },
    ];
    assert_eq!(redact("0123456789", &overlapping), "[REDACTED:a]9");
}

#[test]
fn offsets_are_char_boundaries_in_unicode_text() {
    let text = "clé: AKIAIOSFODNN7EXAMPLE — fin";
    let found = scan(text);
    assert_eq!(found.len(), 1);
    assert!(text.is_char_boundary(found[0].start) && text.is_char_boundary(found[0].end));
}

#[test]
fn entropy() {
    assert_eq!(super::shannon_entropy(""), 0.0);
    assert_eq!(super::shannon_entropy("aaaa"), 0.0);
    assert!((super::shannon_entropy("abcd") - 2.0).abs() < 1e-9);
}

/// The scan as it was before the combined-set prefilter: every pattern on every text.
fn scan_every_pattern(text: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    for pattern in super::patterns::all() {
        for (start, end) in pattern.find_all(text) {
            if !found.iter().any(|&(s, e)| start < e && s < end) {
                found.push((start, end));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn prefilter_finds_exactly_what_every_pattern_finds() {
    let texts = [
        "Oslo",
        "ab://x:y@z",
        "pwd=Xk9#mP2$",
        "key AKIAIOSFODNN7EXAMPLE here",
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 and sk_live_abcdefghijklmnopqrstuvwx",
        "postgres://app:S3cr3t-Pa55@db.internal:5432/app",
        "xoxb-123456789012-abcdefghij glpat-abcdefghij0123456789",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "weather in Oslo tomorrow",
        "the password is stored in the vault; rotate the token monthly",
        "Ünïcödé pässwörd=Ab3$dEf9!x ✓",
    ];
    for text in texts {
        let spans: Vec<(usize, usize)> = scan(text).iter().map(|d| (d.start, d.end)).collect();
        assert_eq!(spans, scan_every_pattern(text), "{text}");
    }
}

#[test]
fn texts_shorter_than_any_secret_are_skipped_but_the_bound_is_tight() {
    let shortest = super::patterns::shortest_match();
    assert!((4..=16).contains(&shortest), "shortest = {shortest}");
    // A text of exactly the bound can still hold a secret (`ab://x:y@z` is ten bytes).
    assert_eq!(kinds("ab://x:y@z"), vec!["url_password"]);
    assert!(scan("Oslo").is_empty());
}

#[test]
fn every_pattern_and_the_combined_set_compile_ahead_of_the_first_scan() {
    assert!(
        prepare(),
        "a secret pattern or the combined set failed to compile"
    );
}
