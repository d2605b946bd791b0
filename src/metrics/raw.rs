//! A [`Recorder`] in a lossless, portable form ([`RawRecorder`]): what a
//! shard writes so that `scenario merge` can rebuild the recorder on
//! another machine and merge it exactly, then compute the step's figures
//! with the same code as a local step ([`Recorder::summary`]).
//!
//! Histograms are in HdrHistogram's standard form: the V2 encoding,
//! deflate-compressed ("V2 + DEFLATE", cookie `0x1c849304`), base64 — what
//! every HdrHistogram implementation (Java, Go, Python, …) reads. Counts
//! are plain numbers; the time series keeps its compact per-second
//! latency buckets as `[bucket, count]` pairs.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::counts::Counts;
use super::series::{Sample, Series, MAX_SAMPLES, SAMPLE_BUCKETS};
use super::Recorder;

/// Everything a [`Recorder`] holds, serializable. Durations in µs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawRecorder {
    /// Latency of successes (from the intended send time in an open loop).
    pub latency: String,
    /// Time to first token, inter-token gaps, per-request output tokens/s
    /// (in thousandths), the gateway's reported overhead.
    pub ttft: String,
    pub itl: String,
    pub tokens_per_s: String,
    pub gateway_overhead: String,
    /// Open loop: service time (actual send to answer) and client queue time.
    pub service: String,
    pub queue: String,
    /// Successes, failures by class, resends, streams, tokens.
    #[serde(flatten)]
    pub counts: Counts,
    /// Requests that met `[report] slo`.
    #[serde(default)]
    pub goodput: super::goodput::Counter,
    /// Streams judged against the upstream's pacing.
    #[serde(default)]
    pub checks: super::stream::Tally,
    /// Non-2xx answers by status code.
    pub status: BTreeMap<u16, u64>,
    pub last_end_us: u64,
    /// Open loop: sends, the last one (µs from the start), late, dropped.
    pub sends: u64,
    pub last_send_us: u64,
    pub late: u64,
    pub dropped: u64,
    /// Per-second (or per 2^shift s) counts and latency buckets.
    pub series: RawSeries,
    /// Every success's latency (µs), when the recorder kept them (tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_us: Option<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSeries {
    /// Each sample covers `2^shift` seconds, from second 0 of the step.
    pub shift: u32,
    pub samples: Vec<RawSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSample {
    pub ok: u64,
    pub errors: u64,
    /// Requests sent, and their time in flight (µs), in the sample.
    #[serde(default)]
    pub sent: u64,
    #[serde(default)]
    pub flight_us: u64,
    /// `[bucket, count]` of the non-empty latency buckets.
    pub latency: Vec<(u8, u32)>,
}

/// A histogram as base64 of its V2 + DEFLATE encoding.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing into memory does not fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Why a lossless recorder cannot be read back (a shard result damaged,
/// or written by another version).
#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("a histogram is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("a histogram does not decode (V2 + DEFLATE): {0:?}")]
    NotHistogram(#[from] hdrhistogram::serialization::DeserializeError),
    #[error("a time series with samples of 2^{0} s")]
    SampleWidth(u32),
    #[error("latency bucket {0} ≥ {SAMPLE_BUCKETS}")]
    Bucket(u8),
}

/// The histogram `encode` wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, RawError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
}

impl Recorder {
    /// This recorder, losslessly.
    pub fn to_raw(&self) -> RawRecorder {
        let o = &self.open;
        RawRecorder {
            latency: encode(&self.latency),
            ttft: encode(&self.ttft),
            itl: encode(&self.itl),
            tokens_per_s: encode(&self.tps),
            gateway_overhead: encode(&self.gateway_overhead),
            service: encode(&o.service),
            queue: encode(&o.queue),
            counts: self.counts.clone(),
            goodput: self.goodput,
            checks: self.checks.clone(),
            status: self
                .status
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(code, n)| (code as u16, *n))
                .collect(),
            last_end_us: self.last_end.as_micros() as u64,
            sends: o.sends,
            last_send_us: o.last_send.as_micros() as u64,
            late: o.late,
            dropped: o.dropped,
            series: RawSeries {
                shift: self.seconds.shift,
                samples: self
                    .seconds
                    .samples
                    .iter()
                    .map(|s| RawSample {
                        ok: s.ok,
                        errors: s.errors,
                        sent: s.sent,
                        flight_us: s.flight_us,
                        latency: s
                            .latency
                            .iter()
                            .enumerate()
                            .filter(|(_, c)| **c > 0)
                            .map(|(b, c)| (b as u8, *c))
                            .collect(),
                    })
                    .collect(),
            },
            samples_us: self.samples.clone(),
        }
    }
}

impl RawRecorder {
    /// The recorder again, its clock moved `later` (a shard that started
    /// measuring after the earliest one): ends and sends move by exactly
    /// that, the series by whole seconds (rounded).
    pub fn into_recorder(self, later: Duration) -> Result<Recorder, RawError> {
        let mut r = Recorder {
            latency: decode(&self.latency)?,
            ttft: decode(&self.ttft)?,
            itl: decode(&self.itl)?,
            tps: decode(&self.tokens_per_s)?,
            gateway_overhead: decode(&self.gateway_overhead)?,
            counts: self.counts,
            goodput: self.goodput,
            checks: self.checks,
            last_end: Duration::from_micros(self.last_end_us) + later,
            samples: self.samples_us,
            ..Recorder::default()
        };
        for (code, n) in self.status {
            r.status[usize::from(code).min(599)] += n;
        }
        let o = &mut r.open;
        o.service = decode(&self.service)?;
        o.queue = decode(&self.queue)?;
        o.sends = self.sends;
        o.last_send = Duration::from_micros(self.last_send_us) + later;
        o.late = self.late;
        o.dropped = self.dropped;
        let shift = self.series.shift;
        if shift > 16 {
            return Err(RawError::SampleWidth(shift));
        }
        let pad = (later.as_secs_f64().round() as u64 >> shift) as usize;
        let mut samples = vec![Sample::default(); pad];
        for s in self.series.samples {
            let mut sample = Sample {
                ok: s.ok,
                errors: s.errors,
                sent: s.sent,
                flight_us: s.flight_us,
                ..Sample::default()
            };
            for (bucket, count) in s.latency {
                let slot = sample
                    .latency
                    .get_mut(usize::from(bucket))
                    .ok_or(RawError::Bucket(bucket))?;
                *slot = slot.saturating_add(count);
            }
            samples.push(sample);
        }
        r.seconds = Series { shift, samples };
        while r.seconds.samples.len() > MAX_SAMPLES {
            r.seconds.coarsen();
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Failure, Tokens, Window};

    fn busy_recorder() -> Recorder {
        let ms = Duration::from_millis;
        let mut r = Recorder::keeping_samples();
        for i in 1..=500u64 {
            let failure = match i % 50 {
                0 => Some(Failure::Status(503)),
                7 => Some(Failure::Timeout),
                _ => None,
            };
            r.record(ms(i * 7), ms(1 + i % 90), failure, 0.9);
            if failure.is_none() {
                r.record_stream(ms(3 + i % 5), &[1_000, 2_000 + i as u32]);
                let per_s = Some(100.0 + i as f64);
                r.record_tokens(Tokens { count: 3, per_s }, 0.9);
            }
        }
        r.record_send(ms(3), ms(1), true, Some(ms(4)));
        r.record_dropped(2);
        r.record_retry();
        r.record_gateway_overhead(1.5);
        r
    }

    #[test]
    fn a_recorder_survives_the_raw_form_exactly() {
        let r = busy_recorder();
        let json = serde_json::to_string(&r.to_raw()).unwrap();
        let back: RawRecorder = serde_json::from_str(&json).unwrap();
        let again = back.into_recorder(Duration::ZERO).unwrap();
        let w = Window {
            whole: Duration::from_secs(4),
            busy: Duration::from_secs(3),
        };
        assert_eq!(again.summary(w), r.summary(w));
        assert_eq!(again.timeseries(), r.timeseries());
        assert_eq!(
            again.open_summary(10.0, w.whole),
            r.open_summary(10.0, w.whole)
        );
        assert_eq!(again.to_raw(), r.to_raw());
    }

    #[test]
    fn merged_raw_histograms_equal_one_built_from_every_sample() {
        let (a, b) = (busy_recorder(), {
            let mut b = Recorder::keeping_samples();
            for i in 0..333u64 {
                b.record(
                    Duration::from_millis(i),
                    Duration::from_micros(500 + i * i * 37),
                    None,
                    1.0,
                );
            }
            b
        });
        let mut merged = a.to_raw().into_recorder(Duration::ZERO).unwrap();
        merged.merge(&b.to_raw().into_recorder(Duration::ZERO).unwrap());
        let mut all = crate::metrics::histogram::<u64>(3);
        for us in merged.samples.clone().unwrap() {
            all.record(us).unwrap();
        }
        assert_eq!(all.len(), a.successes() + b.successes());
        assert_eq!(merged.latency, all);
    }

    #[test]
    fn a_later_shard_moves_its_ends_and_seconds() {
        let mut r = Recorder::default();
        r.record(
            Duration::from_millis(1500),
            Duration::from_millis(2),
            None,
            1.0,
        );
        let moved = r
            .to_raw()
            .into_recorder(Duration::from_millis(2100))
            .unwrap();
        assert_eq!(moved.last_end(), Duration::from_millis(3600));
        let ts = moved.timeseries();
        assert_eq!((ts.len(), ts[3].ok), (4, 1));
    }

    #[test]
    fn a_broken_histogram_is_an_error() {
        let mut raw = Recorder::default().to_raw();
        raw.latency = "AAAA".into();
        let e = raw.into_recorder(Duration::ZERO).unwrap_err().to_string();
        assert!(e.contains("V2"), "{e}");
    }
}
