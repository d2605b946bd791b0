//! The official Python SDKs talk to the fake upstream: `openai` for chat
//! (plain and streamed), completions, embeddings, models and the Responses
//! API (plain and streamed); `anthropic` for Messages (plain, streamed, the
//! stream helper, and an injected 429 as its `RateLimitError`). The tests
//! make one venv in the scenario cache with both SDKs from the package
//! index (so a cold cache works too) and reuse it (`common::test_venv`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Server;

/// What the venv holds; the marker file records it, so adding a package
/// here installs it into an existing venv.
const PACKAGES: [&str; 2] = ["openai", "anthropic"];

/// A venv with [`PACKAGES`] installed, made on first use.
fn venv_python() -> PathBuf {
    common::test_venv("sdks", &PACKAGES).join("bin/python")
}

/// Runs `tests/python/SCRIPT URL` in the venv; its stdout, after success.
fn run_script(script: &str, url: &str) -> String {
    let python = venv_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new(python).arg(script).arg(url).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `key=value` fields of the script's output line starting with `name`.
fn line<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{output}"))
}

#[test]
fn openai_python_sdk_chat_stream_completions_embeddings() {
    let server = Server::start(&["--delay-ms", "0", "--itl", "1"]);
    let stdout = run_script(
        "openai_sdk_check.py",
        &format!("http://127.0.0.1:{}/v1", server.port),
    );

    assert_eq!(
        line(&stdout, "chat"),
        "model=gpt-4o-mini content='Lorem ipsum dolor sit amet' finish=stop prompt_tokens=8 completion_tokens=5"
    );
    assert_eq!(
        line(&stdout, "stream"),
        "chunks=6 text='Lorem ipsum dolor sit amet,' finish=stop completion_tokens=6"
    );
    assert_eq!(
        line(&stdout, "completion"),
        "text='Lorem ipsum dolor' prompt_tokens=2 completion_tokens=3"
    );
    assert_eq!(
        line(&stdout, "embeddings"),
        "count=3 dims=16 first_type=float"
    );
    assert_eq!(line(&stdout, "embeddings_float"), "count=1 dims=8");
    assert!(line(&stdout, "models").contains("mock-chat-model"));
}

#[test]
fn anthropic_python_sdk_messages_plain_streamed_and_errors() {
    let server = Server::start(&["--delay-ms", "0", "--itl", "1"]);
    let stdout = run_script(
        "anthropic_sdk_check.py",
        &format!("http://127.0.0.1:{}", server.port),
    );
    // "Be brief." + the user text: 9 + 30 characters, 10 tokens.
    assert_eq!(
        line(&stdout, "message"),
        "type=message id=msg_ model=claude-3-5-haiku-latest text='Lorem ipsum dolor sit amet' \
         stop=end_turn input_tokens=10 output_tokens=5"
    );
    // The SDK drops `ping`; every other event type, in order.
    assert_eq!(
        line(&stdout, "stream"),
        "events=message_start,content_block_start,content_block_delta,content_block_stop,\
         message_delta,message_stop deltas=6 text='Lorem ipsum dolor sit amet,' output_tokens=6"
    );
    assert_eq!(
        line(&stdout, "helper"),
        "text='Lorem ipsum dolor sit' final='Lorem ipsum dolor sit' stop=end_turn \
         input_tokens=2 output_tokens=4"
    );
    let stats = common::request(server.port, "GET", "/stats", None).unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).unwrap();
    assert_eq!(stats["endpoints"]["messages"], 3);
    assert_eq!(stats["streamed"], 2);
    assert_eq!(stats["completion_tokens"], 5 + 6 + 4);

    // An injected fault reaches the SDK as its own error class and type.
    let faulty = Server::start(&["--delay-ms", "0", "--fault", "429=1"]);
    let stdout = run_script(
        "anthropic_sdk_errors.py",
        &format!("http://127.0.0.1:{}", faulty.port),
    );
    assert_eq!(
        line(&stdout, "error"),
        "class=RateLimitError status=429 type=rate_limit_error"
    );
}

#[test]
fn openai_python_sdk_responses_plain_and_streamed() {
    let server = Server::start(&["--delay-ms", "0", "--itl", "1"]);
    let stdout = run_script(
        "openai_responses_check.py",
        &format!("http://127.0.0.1:{}/v1", server.port),
    );
    assert_eq!(
        line(&stdout, "response"),
        "object=response id=resp_ status=completed text='Lorem ipsum dolor sit amet' \
         input_tokens=10 output_tokens=5 total_tokens=15"
    );
    assert_eq!(
        line(&stdout, "stream"),
        "events=response.created,response.in_progress,response.output_item.added,\
         response.content_part.added,response.output_text.delta,response.output_text.done,\
         response.content_part.done,response.output_item.done,response.completed deltas=6 \
         text='Lorem ipsum dolor sit amet,' final='Lorem ipsum dolor sit amet,' output_tokens=6"
    );
    assert_eq!(
        line(&stdout, "helper"),
        "text='Lorem ipsum dolor' output_tokens=3"
    );
}
