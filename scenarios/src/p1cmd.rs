//! `meterlab p1 decode|check`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use p1::smarty::Keys;
use p1::{Decoder, Dialect, Frame, Obis, Reading, Telegram, obis};
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum P1Command {
    /// Print every telegram in a file (or stdin) with its fields.
    ///
    /// The input may hold any number of telegrams, plain or Smarty-encrypted, with noise
    /// between them; each frame is reported, good or bad, as it is read. Values outside their
    /// object's format in the specs are listed as "out of spec" (and make the exit code 1).
    Decode {
        #[command(flatten)]
        input: Input,
        /// Print JSON (one array of frames) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check telegrams: exit 0 when every frame is valid, 1 otherwise, with the reason.
    ///
    /// Valid means framed, with a matching CRC, and every value in its object's format in the
    /// specs: its digits (F9(3,3) kWh registers, F5(3,3) kW powers…), its unit, and timestamps
    /// that are real dates.
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

/// How much input is read at a time. Frames are decoded, judged, printed and dropped chunk by
/// chunk, so memory does not grow with the input (issue 14: reading a 10 MB capture whole and
/// keeping its frames took 5.5 GB).
const CHUNK: usize = 64 * 1024;

impl Input {
    /// Reads the input a chunk at a time and hands each frame to `each` (with its 1-based
    /// number) as soon as it is decoded; returns how many frames there were. Output is flushed
    /// after every chunk, so `cat /dev/ttyUSB0 | meterlab p1 decode -` shows telegrams as they
    /// arrive.
    fn for_each_frame<W: Write>(
        &self,
        out: &mut W,
        mut each: impl FnMut(&mut W, usize, Frame) -> Result<()>,
    ) -> Result<usize> {
        let mut decoder = Decoder::new();
        if let Some(key) = &self.key {
            decoder = decoder.with_keys(Keys::from_hex(key).context("--key")?);
        }
        let mut reader: Box<dyn Read> = if self.path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let file = std::fs::File::open(&self.path)
                .with_context(|| format!("cannot read {}: check the path", self.path.display()))?;
            Box::new(file)
        };
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0;
        let mut saw_start = false;
        loop {
            let len = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(len) => len,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", self.name())),
            };
            saw_start |= buf[..len].contains(&b'/');
            for frame in decoder.decode(&buf[..len]) {
                n += 1;
                each(out, n, frame)?;
            }
            out.flush()?;
        }
        // A telegram whose last line has no CR LF ends with the input.
        decoder.finish();
        while let Some(frame) = decoder.next_frame() {
            n += 1;
            each(out, n, frame)?;
        }
        if n == 0 && saw_start {
            // A telegram that never reached `!`: report it rather than saying nothing.
            n = 1;
            each(out, n, Frame::Malformed { raw: Vec::new(), reason: p1::Malformed::NoEnd })?;
        }
        out.flush()?;
        Ok(n)
    }

    fn name(&self) -> String {
        if self.path.as_os_str() == "-" { "stdin".into() } else { self.path.display().to_string() }
    }
}

pub(crate) fn run(cmd: P1Command) -> Result<ExitCode> {
    match run_to(cmd, &mut BufWriter::with_capacity(CHUNK, std::io::stdout().lock())) {
        // The reader went away (`meterlab p1 decode big.txt | head`): what it did not read
        // cannot matter to it, so end quietly, as `cat` does. Reads never fail this way, so
        // this is stdout.
        Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
        res => res,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    })
}

fn run_to(cmd: P1Command, out: &mut impl Write) -> Result<ExitCode> {
    match cmd {
        P1Command::Decode { input, json } => {
            let mut bad = 0;
            let n = if json {
                // One JSON array, written an element at a time; the same bytes as
                // `serde_json::to_writer_pretty` of the whole array.
                let n = input.for_each_frame(out, |out, i, f| {
                    let problems = problems(&f);
                    bad += usize::from(!problems.is_empty());
                    let element = serde_json::to_string_pretty(&frame_json(&f, &problems))?;
                    out.write_all(if i == 1 { b"[\n  " } else { b",\n  " })?;
                    out.write_all(element.replace('\n', "\n  ").as_bytes())?;
                    Ok(())
                })?;
                if n > 0 {
                    out.write_all(b"\n]\n")?;
                }
                n
            } else {
                input.for_each_frame(out, |out, i, f| {
                    let problems = problems(&f);
                    bad += usize::from(!problems.is_empty());
                    write_frame_text(out, i, &f, &problems)
                })?
            };
            out.flush()?;
            if n == 0 {
                anyhow::bail!("{}", NO_TELEGRAM);
            }
            Ok(exit_for(bad))
        }
        P1Command::Check { input } => {
            let mut bad = 0;
            let n = input.for_each_frame(out, |out, i, f| {
                let problems = problems(&f);
                if problems.is_empty() {
                    writeln!(out, "telegram {i}: ok ({})", describe_ok(&f))?;
                } else {
                    bad += 1;
                }
                for p in problems {
                    writeln!(out, "telegram {i}: error: {p}")?;
                }
                Ok(())
            })?;
            if n == 0 {
                writeln!(out, "error: {NO_TELEGRAM}")?;
                out.flush()?;
                return Ok(ExitCode::from(1));
            }
            writeln!(out, "{n} telegram(s), {} valid, {bad} with errors", n - bad)?;
            out.flush()?;
            Ok(exit_for(bad))
        }
    }
}

const NO_TELEGRAM: &str = "no telegram found: a P1 telegram starts with '/' and ends with '!' and a CRC \
     (Smarty frames start with byte 0xDB); is this the right file?";

fn exit_for(bad: usize) -> ExitCode {
    if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Why a frame is not a valid telegram: the framing problem, or every value that breaks the
/// specs' formats (`p1::validate`). Empty for a valid telegram.
fn problems(f: &Frame) -> Vec<String> {
    match f {
        Frame::Ok { telegram, .. } => {
            p1::validate(telegram).iter().map(|v| v.to_string()).collect()
        }
        Frame::CorruptCrc { expected, computed, .. } => vec![format!(
            "CRC mismatch: the telegram says {expected:04X} but its bytes give {computed:04X}; \
             the telegram was damaged in transit or edited (CR LF line ends must be kept)"
        )],
        Frame::Truncated { raw } => {
            vec![format!("truncated after {} bytes: a new telegram started before '!'", raw.len())]
        }
        Frame::Malformed { reason, .. } => vec![reason.to_string()],
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

fn write_frame_text(out: &mut impl Write, i: usize, f: &Frame, problems: &[String]) -> Result<()> {
    let Frame::Ok { telegram, .. } = f else {
        for p in problems {
            writeln!(out, "telegram {i}: error: {p}")?;
        }
        return Ok(());
    };
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
    // The frame is intact but some values break the spec; the summary above reads them as 0.
    for p in problems {
        writeln!(out, "  out of spec: {p}")?;
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

fn frame_json(f: &Frame, problems: &[String]) -> serde_json::Value {
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
            "violations": problems,
        }),
        other => json!({
            "status": match other {
                Frame::CorruptCrc { .. } => "corrupt_crc",
                Frame::Truncated { .. } => "truncated",
                _ => "malformed",
            },
            "error": problems.first(),
        }),
    }
}
