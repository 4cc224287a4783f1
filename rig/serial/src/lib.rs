//! Where a meter's bytes go: an in-memory line, a pseudo-terminal in raw mode (with a stable
//! symlink), a raw TCP port that any number of readers may attach to (like ser2net), or a real
//! serial device.
//!
//! Every output is a [`FrameSink`]: `send` hands a telegram to a writer task and returns at once.
//! A slow, absent or vanished reader never blocks the meter; what cannot be delivered is
//! dropped and counted ([`SinkStats`]), as a real meter's telegrams are lost when nobody reads.
//! This crate owns every serial port and socket of the lab's output side, and the in-memory
//! [`Cable`] that carries a meter's bytes to the simulated dongle on its P1 port.

mod cable;

pub use cable::{CABLE_BUFFER, Cable};

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

/// Why an output could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// Creating a pseudo-terminal failed.
    #[error("cannot create a pseudo-terminal: {0}")]
    Pty(tokio_serial::Error),
    /// Opening a device failed.
    #[error(
        "cannot open {path} at {baud} baud: {source} (is the device plugged in, and may you read it? try `ls -l {path}`)"
    )]
    Device {
        /// The device path.
        path: String,
        /// The speed asked for.
        baud: u32,
        /// Why.
        source: tokio_serial::Error,
    },
    /// Binding a TCP port failed.
    #[error("cannot listen on {addr}: {source} (is the port in use? pick another with tcp:PORT)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Making the stable symlink failed.
    #[error("cannot link {link} to the pty: {source}")]
    Link {
        /// The symlink path.
        link: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Delivery counters of a sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Frames handed to the output.
    pub sent: AtomicU64,
    /// Frames dropped because the output was not keeping up (or nobody was reading).
    pub dropped: AtomicU64,
    /// Readers that attached (TCP).
    pub readers: AtomicU64,
}

/// Bytes per second of a serial line at `baud` with 8N1 framing (10 bits per byte):
/// 115200 baud carries 11,520 bytes/s.
pub fn bytes_per_second(baud: u32) -> u32 {
    baud / 10
}

/// A non-blocking handle to an output.
#[derive(Debug, Clone)]
pub struct FrameSink {
    tx: SinkTx,
    stats: Arc<SinkStats>,
}

#[derive(Debug, Clone)]
enum SinkTx {
    Queue(mpsc::Sender<Vec<u8>>),
    Fanout(broadcast::Sender<Arc<Vec<u8>>>),
}

impl FrameSink {
    /// Hands a frame over without waiting; `false` if it was dropped.
    pub fn send(&self, frame: Vec<u8>) -> bool {
        let ok = match &self.tx {
            SinkTx::Queue(tx) => tx.try_send(frame).is_ok(),
            SinkTx::Fanout(tx) => tx.send(Arc::new(frame)).is_ok(),
        };
        let counter = if ok { &self.stats.sent } else { &self.stats.dropped };
        counter.fetch_add(1, Ordering::Relaxed);
        ok
    }

    /// Delivery counters.
    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }
}

/// Frames in flight per writer: a few telegrams, so a stalled line drops old news quickly.
const QUEUE: usize = 8;

/// Runs before each frame is written; `true` when it discarded an earlier frame nobody read.
type BeforeWrite = Box<dyn FnMut() -> bool + Send>;

/// Writes frames to `out`, paced at `baud` (8N1) when given: a pty ignores the baud rate, so
/// a realistic line has to be slowed down here (≈95 ms for a 1,100-byte telegram at 115200).
fn spawn_writer<W>(mut out: W, baud: Option<u32>, mut before: Option<BeforeWrite>) -> FrameSink
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let stats = Arc::new(SinkStats::default());
    let counters = stats.clone();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if let Some(discard) = before.as_mut()
                && discard()
            {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            let res = match baud {
                None => out.write_all(&frame).await,
                Some(b) => write_paced(&mut out, &frame, b).await,
            };
            if res.is_err() || out.flush().await.is_err() {
                // The reader side is gone for good (device unplugged): stop writing.
                break;
            }
        }
    });
    FrameSink { tx: SinkTx::Queue(tx), stats }
}

async fn write_paced<W: AsyncWrite + Unpin>(
    out: &mut W,
    frame: &[u8],
    baud: u32,
) -> io::Result<()> {
    // 50 slices a second keeps the timing error under 20 ms without a timer per byte.
    let per_slice = (bytes_per_second(baud) / 50).max(1) as usize;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for chunk in frame.chunks(per_slice) {
        tick.tick().await;
        out.write_all(chunk).await?;
    }
    Ok(())
}

/// A pseudo-terminal whose slave end an external program opens like a serial port.
///
/// Like a real meter's port, it holds no backlog: before each telegram, whatever the previous
/// one left unread in the pty (nobody attached, or a reader that stopped reading) is
/// discarded and counted as dropped, so a reader that opens the pty later starts with the
/// current telegram, not with the ~64 KiB (minutes of telegrams) the kernel would keep.
#[derive(Debug)]
pub struct Pty {
    path: PathBuf,
    link: Option<PathBuf>,
    sink: FrameSink,
    // Kept open so the pty lives while no reader is attached. Never read here: an external
    // reader would race us for the bytes. The writer only flushes its input queue, through a
    // weak handle, so the descriptor is never used after the pty is gone.
    _slave: Arc<SerialStream>,
}

impl Pty {
    /// Creates a pty in raw mode (CR LF must survive: a cooked tty turns `\r\n` into `\n` and
    /// breaks every CRC), optionally symlinked at `link` (e.g. `<run-dir>/rig-a/meter-03`),
    /// with bytes paced at `baud` when given.
    pub fn open(link: Option<&Path>, baud: Option<u32>) -> Result<Pty, SerialError> {
        // tokio-serial's pair() applies cfmakeraw to the slave (serialport TTYPort::pair).
        let (master, slave) = SerialStream::pair().map_err(SerialError::Pty)?;
        let path = PathBuf::from(slave.name().unwrap_or_default());
        let link = match link {
            Some(l) => {
                if let Some(dir) = l.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|source| SerialError::Link { link: l.into(), source })?;
                }
                let _ = std::fs::remove_file(l);
                std::os::unix::fs::symlink(&path, l)
                    .map_err(|source| SerialError::Link { link: l.into(), source })?;
                Some(l.to_path_buf())
            }
            None => None,
        };
        let slave = Arc::new(slave);
        let weak = Arc::downgrade(&slave);
        // A reader that is attached has taken the previous telegram long before the next one
        // (a second or more later); bytes still queued belong to nobody and would only age.
        // TCIFLUSH on the slave also empties the kernel's flip buffers, which FIONREAD does
        // not see, so the flush is unconditional and the count is best effort.
        let discard_unread: BeforeWrite = Box::new(move || {
            let Some(slave) = weak.upgrade() else { return false };
            let unread = slave.bytes_to_read().is_ok_and(|n| n > 0);
            let _ = slave.clear(tokio_serial::ClearBuffer::Input);
            unread
        });
        Ok(Pty {
            path,
            link,
            sink: spawn_writer(master, baud, Some(discard_unread)),
            _slave: slave,
        })
    }

    /// The device path (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stable symlink, if one was asked for.
    pub fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The sink to write frames to.
    pub fn sink(&self) -> FrameSink {
        self.sink.clone()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(l) = &self.link {
            let _ = std::fs::remove_file(l);
        }
    }
}

/// An in-memory line: frames written to the sink come out of the reader, optionally paced at
/// a baud rate. The bulk of the lab's tests and accelerated runs use it.
pub fn mem_line(baud: Option<u32>) -> (FrameSink, tokio::io::DuplexStream) {
    // 64 KiB of line buffer: a reader that stops reading fills it, then frames are dropped.
    let (writer, reader) = tokio::io::duplex(64 * 1024);
    (spawn_writer(writer, baud, None), reader)
}

/// A real serial device (USB-serial P1 cable, or the input of a dongle under test).
pub fn open_device(path: &str, baud: u32) -> Result<FrameSink, SerialError> {
    let port = tokio_serial::new(path, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .open_native_async()
        .map_err(|source| SerialError::Device { path: path.into(), baud, source })?;
    // A real UART paces itself at its baud rate.
    Ok(spawn_writer(port, None, None))
}

/// A raw TCP port: every connected reader gets every frame from the moment it connects.
/// Readers that fall behind skip frames; they never slow the meter or each other.
#[derive(Debug)]
pub struct TcpFanout {
    addr: SocketAddr,
    sink: FrameSink,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for TcpFanout {
    fn drop(&mut self) {
        // Stop accepting; readers end when the last sink handle is gone.
        self.accept.abort();
    }
}

impl TcpFanout {
    /// Listens on `addr` (port 0 picks a free port; see [`TcpFanout::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> Result<TcpFanout, SerialError> {
        let listener =
            TcpListener::bind(addr).await.map_err(|source| SerialError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| SerialError::Bind { addr, source })?;
        let (tx, _) = broadcast::channel::<Arc<Vec<u8>>>(QUEUE);
        let stats = Arc::new(SinkStats::default());
        let sink = FrameSink { tx: SinkTx::Fanout(tx.clone()), stats: stats.clone() };
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { continue };
                stats.readers.fetch_add(1, Ordering::Relaxed);
                let mut rx = tx.subscribe();
                let _ = sock.set_nodelay(true);
                tokio::spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok(frame) => {
                                if sock.write_all(&frame).await.is_err() {
                                    break;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                });
            }
        });
        Ok(TcpFanout { addr, sink, accept })
    }

    /// The address readers connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sink to write frames to.
    pub fn sink(&self) -> FrameSink {
        self.sink.clone()
    }
}
