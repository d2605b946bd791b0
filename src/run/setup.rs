//! The setup calls a scenario makes once its services are up (create a
//! user, a key, a route…): rendered in order, each answer logged with its
//! secrets hidden, values captured from one feeding the bodies of the next.

use std::path::Path;
use std::time::Duration;

use super::RunError;
use crate::plan::Plan;

/// Make the setup calls in order; values they capture feed later bodies.
pub(super) async fn run(plan: &Plan, log: &Path) -> Result<(), RunError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut captured = serde_json::Map::new();
    let mut lines = String::new();
    for call in &plan.setup {
        let mut ctx = plan.context.clone();
        if let Some(map) = ctx.as_object_mut() {
            map.insert(
                "captured".into(),
                serde_json::Value::Object(captured.clone()),
            );
        }
        let body = match &call.body {
            Some(t) => env
                .render_str(t, &ctx)
                .map_err(|source| RunError::SetupBody {
                    call: call.name.clone(),
                    source,
                })?,
            None => String::new(),
        };
        let answer = crate::control::call(
            &call.method,
            &call.url,
            &call.headers,
            body.clone().into(),
            Duration::from_secs(60),
        )
        .await;
        let crate::control::Answer {
            status,
            body: answer,
        } = answer.map_err(|source| RunError::SetupCall {
            call: call.name.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&answer);
        lines.push_str(&format!(
            "{} {} -> {status}\n  sent: {body}\n  got: {text}\n",
            call.method, call.url
        ));
        let _ = std::fs::write(log, plan.hide(&lines));
        if !(200..300).contains(&status) {
            // Secrets in the answer are hidden where the error is reported.
            return Err(RunError::SetupStatus {
                call: call.name.clone(),
                method: call.method.clone(),
                url: call.url.clone(),
                status,
                text: text.chars().take(500).collect(),
            });
        }
        if call.capture.is_empty() {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|source| RunError::SetupNotJson {
                call: call.name.clone(),
                source,
                text: text.to_string(),
            })?;
        for (name, pointer) in &call.capture {
            let value = json
                .pointer(pointer)
                .ok_or_else(|| RunError::SetupCapture {
                    call: call.name.clone(),
                    pointer: pointer.clone(),
                    name: name.clone(),
                    text: text.to_string(),
                })?;
            captured.insert(name.clone(), value.clone());
        }
    }
    Ok(())
}
