//! `meterlab p1 decode|check`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use p1::smarty::Keys;
use p1::{Decoder, Dialect, Frame, Obis, Reading, Telegram, obis};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum P1Command {
    /// Print every telegram in a file (or stdin) with its fields.
    ///
    /// The input may hold any number of telegrams, plain or Smarty-encrypted, with noise
    /// between them; each frame is reported, good or bad.
    Decode {
        #[command(flatten)]
        input: Input,
        /// Print JSON (one array of frames) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check telegrams: exit 0 when every frame is valid, 1 otherwise, with the reason.
    Check {
        #[command(flatten)]
        input: Input,
    },
}

#[derive(Args)]
pub(crate) struct Input {
    /// A file with raw telegram bytes, or `-` for stdin.
    #[arg(value_name = "FILE|-")]
    path: PathBuf,
    /// Smarty decryption key (32 hex digits, from the DSO) for encrypted frames.
    #[arg(long, value_name = "HEX", env = "MLAB_SMARTY_KEY")]
    key: Option<String>,
}

impl Input {
    fn frames(&self) -> Result<Vec<Frame>> {
        let bytes = if self.path.as_os_str() == "-" {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).context("reading stdin")?;
            b
        } else {
            std::fs::read(&self.path)
                .with_context(|| format!("cannot read {}: check the path", self.path.display()))?
        };
        let mut decoder = Decoder::new();
        if let Some(key) = &self.key {
            decoder = decoder.with_keys(Keys::from_hex(key).context("--key")?);
        }
        let mut frames: Vec<Frame> = decoder.decode(&bytes).collect();
        if frames.is_empty() && bytes.contains(&b'/') {
            // A telegram that never reached `!`: report it rather than saying nothing.
            frames.push(Frame::Malformed { raw: bytes, reason: p1::Malformed::NoEnd });
        }
        Ok(frames)
    }
}

pub(crate) fn run(cmd: P1Command) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        P1Command::Decode { input, json } => {
            let frames = input.frames()?;
            if frames.is_empty() {
                anyhow::bail!("{}", NO_TELEGRAM);
            }
            if json {
                let doc: Vec<_> = frames.iter().map(frame_json).collect();
                serde_json::to_writer_pretty(&mut out, &doc)?;
                writeln!(out)?;
            } else {
                for (i, f) in frames.iter().enumerate() {
                    write_frame_text(&mut out, i + 1, f)?;
                }
            }
            Ok(exit_for(&frames))
        }
        P1Command::Check { input } => {
            let frames = input.frames()?;
            if frames.is_empty() {
                writeln!(out, "error: {NO_TELEGRAM}")?;
                return Ok(ExitCode::from(1));
            }
            for (i, f) in frames.iter().enumerate() {
                match problem(f) {
                    None => writeln!(out, "telegram {}: ok ({})", i + 1, describe_ok(f))?,
                    Some(p) => writeln!(out, "telegram {}: error: {p}", i + 1)?,
                }
            }
            let bad = frames.iter().filter(|f| problem(f).is_some()).count();
            writeln!(
                out,
                "{} telegram(s), {} valid, {bad} with errors",
                frames.len(),
                frames.len() - bad
            )?;
            Ok(exit_for(&frames))
        }
    }
}

const NO_TELEGRAM: &str = "no telegram found: a P1 telegram starts with '/' and ends with '!' and a CRC \
     (Smarty frames start with byte 0xDB); is this the right file?";

fn exit_for(frames: &[Frame]) -> ExitCode {
    if frames.iter().all(|f| problem(f).is_none()) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn problem(f: &Frame) -> Option<String> {
    match f {
        Frame::Ok { .. } => None,
        Frame::CorruptCrc { expected, computed, .. } => Some(format!(
            "CRC mismatch: the telegram says {expected:04X} but its bytes give {computed:04X}; \
             the telegram was damaged in transit or edited (CR LF line ends must be kept)"
        )),
        Frame::Truncated { raw } => {
            Some(format!("truncated after {} bytes: a new telegram started before '!'", raw.len()))
        }
        Frame::Malformed { reason, .. } => Some(reason.to_string()),
    }
}

fn describe_ok(f: &Frame) -> String {
    let Frame::Ok { telegram, raw, security } = f else { return String::new() };
    let crc = if telegram.has_crc { "CRC ok" } else { "no CRC (DSMR 2.2/3.0)" };
    let dialect = Dialect::detect(telegram).map_or("unknown dialect", Dialect::name);
    let enc = if security.is_some() { ", decrypted" } else { "" };
    format!("/{}, {dialect}, {} bytes, {crc}{enc}", telegram.header, raw.len())
}

fn name_of(o: Obis) -> Option<&'static str> {
    let on_ch1 = o.on_channel(if o.b == 0 { 0 } else { 1 });
    obis::NAMED.iter().find(|(code, _)| *code == o || *code == on_ch1).map(|(_, n)| *n)
}

fn write_frame_text(out: &mut impl Write, i: usize, f: &Frame) -> Result<()> {
    match f {
        Frame::Ok { telegram, .. } => {
            writeln!(out, "telegram {i}: ok ({})", describe_ok(f))?;
            write_lines(out, telegram)?;
            let r = Reading::from_telegram(telegram);
            let tariff = match Dialect::detect(telegram) {
                Some(d) if d.tariff1_is_low() => ["low", "normal"],
                _ => ["day", "night"],
            };
            writeln!(
                out,
                "  summary: import {:.3} kWh ({} {:.3} + {} {:.3}), export {:.3} kWh, power {} W in / {} W out, {} phase(s), {} M-Bus device(s)",
                (r.import_wh[0] + r.import_wh[1]) as f64 / 1000.0,
                tariff[0],
                r.import_wh[0] as f64 / 1000.0,
                tariff[1],
                r.import_wh[1] as f64 / 1000.0,
                (r.export_wh[0] + r.export_wh[1]) as f64 / 1000.0,
                r.power_import_w,
                r.power_export_w,
                r.phases.len(),
                r.mbus.len(),
            )?;
        }
        other => writeln!(out, "telegram {i}: error: {}", problem(other).unwrap_or_default())?,
    }
    Ok(())
}

fn write_lines(out: &mut impl Write, t: &Telegram) -> Result<()> {
    for line in &t.lines {
        let code = line.obis.map(|o| o.to_string()).unwrap_or_default();
        let name = line.obis.and_then(name_of).unwrap_or("");
        let values: Vec<String> = line.values.iter().map(|v| format!("({v})")).collect();
        writeln!(out, "  {code:<12} {:<26} {}", name.to_lowercase(), values.join(""))?;
    }
    Ok(())
}

fn frame_json(f: &Frame) -> serde_json::Value {
    use serde_json::json;
    match f {
        Frame::Ok { telegram, raw, security } => json!({
            "status": "ok",
            "header": telegram.header,
            "dialect": Dialect::detect(telegram).map(Dialect::name),
            "has_crc": telegram.has_crc,
            "bytes": raw.len(),
            "encrypted": security.map(|s| json!({
                "system_title": s.system_title.iter().map(|b| format!("{b:02X}")).collect::<String>(),
                "frame_counter": s.frame_counter,
            })),
            "lines": telegram.lines.iter().map(|l| json!({
                "obis": l.obis.map(|o| o.to_string()),
                "name": l.obis.and_then(name_of).map(str::to_lowercase),
                "values": l.values.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "reading": Reading::from_telegram(telegram),
        }),
        other => json!({
            "status": match other {
                Frame::CorruptCrc { .. } => "corrupt_crc",
                Frame::Truncated { .. } => "truncated",
                _ => "malformed",
            },
            "error": problem(other),
        }),
    }
}
