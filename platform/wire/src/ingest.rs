//! Dongle → platform.

/// Version 1 of the upload contract.
pub mod v1 {
    use calendar::Timestamp;
    use hmac::{Hmac, KeyInit, Mac};
    use serde::{Deserialize, Serialize};
    use sha2::Sha256;

    /// The largest upload body the platform accepts, bytes (about 180 Belgian telegrams as JSON).
    pub const MAX_BODY: usize = 256 * 1024;

    /// The MQTT topic a dongle publishes its uploads on (QoS 1).
    pub fn topic(dongle: &str) -> String {
        format!("meterlab/v1/dongles/{dongle}/uploads")
    }

    /// The subscription that covers every dongle.
    pub const TOPIC_FILTER: &str = "meterlab/v1/dongles/+/uploads";

    /// The dongle id in a topic from [`topic`].
    pub fn dongle_of_topic(topic: &str) -> Option<&str> {
        topic.strip_prefix("meterlab/v1/dongles/")?.strip_suffix("/uploads")
    }

    /// The topic the platform answers a dongle's MQTT uploads on: one [`Receipt`] per message
    /// it stored, published before the message is acknowledged, that accounts for every
    /// upload of the message. At most once (QoS 0): a receipt lost with a connection costs the
    /// dongle a timeout and a resend, which the platform answers with duplicates; QoS 1 would
    /// cost every message a second acknowledgement at the broker. MQTT 3.1.1 has no correlation data, so a dongle matches a
    /// receipt to its message by the sequence numbers ([`Receipt::answers`]): they are never
    /// reused, and a receipt for an earlier, redelivered message answers other ones. A
    /// message that is not a batch gets no receipt (it has no sequence numbers to answer
    /// for); one the store failed to take gets none either and is redelivered.
    pub fn receipt_topic(dongle: &str) -> String {
        format!("meterlab/v1/dongles/{dongle}/receipts")
    }

    /// One telegram as a dongle read it, with its metadata (R-NRT-2: identifiers,
    /// timestamps, integrity check).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Upload {
        /// The dongle. No NUL character (no store keeps one in text).
        #[schemars(regex(pattern = r"^[^\u0000]+$"))]
        pub dongle: String,
        /// Per-dongle sequence number, one per telegram read, never reused.
        pub seq: u64,
        /// When the dongle read the telegram (its own clock).
        #[schemars(with = "String", extend("format" = "date-time"))]
        pub captured_at: Timestamp,
        /// The raw telegram `/…!CRC\r\n` as read (Smarty frames decrypted by the dongle). No
        /// NUL character.
        #[schemars(regex(pattern = r"^[^\u0000]*$"))]
        pub telegram: String,
        /// Whether the dongle found the CRC valid; corrupt telegrams are uploaded too, so the
        /// platform can count them (R-NRT-9).
        pub crc_ok: bool,
        /// HMAC-SHA256 over [`Upload::signed_bytes`] with the dongle's key, hex.
        #[schemars(regex(pattern = r"^[0-9a-fA-F]{64}$"))]
        pub sig: String,
    }

    impl Upload {
        /// The bytes the signature covers: a fixed layout, so no JSON canonicalisation is
        /// needed. `meterlab-ingest-v1 LF dongle LF seq LF captured_at LF crc_ok LF telegram`.
        pub fn signed_bytes(&self) -> Vec<u8> {
            let mut b = Vec::with_capacity(64 + self.telegram.len());
            self.signed_parts(|part| b.extend_from_slice(part));
            b
        }

        /// Feeds the signed bytes piece by piece (no copy of the telegram).
        fn signed_parts(&self, mut f: impl FnMut(&[u8])) {
            let seq = self.seq.to_string();
            let at = self.captured_at.to_string();
            for part in [
                &b"meterlab-ingest-v1\n"[..],
                self.dongle.as_bytes(),
                b"\n",
                seq.as_bytes(),
                b"\n",
                at.as_bytes(),
                b"\n",
                if self.crc_ok { b"1\n" } else { b"0\n" },
                self.telegram.as_bytes(),
            ] {
                f(part);
            }
        }

        fn mac(&self, key: &[u8]) -> Option<Hmac<Sha256>> {
            // HMAC accepts keys of any length, so this only fails on an impossible key.
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
            self.signed_parts(|part| m.update(part));
            Some(m)
        }

        /// Signs the upload in place.
        pub fn sign(&mut self, key: &[u8]) {
            self.sig =
                self.mac(key).map(|m| crate::hex(&m.finalize().into_bytes())).unwrap_or_default();
        }

        /// Whether `sig` is this key's signature (constant-time comparison).
        pub fn verify(&self, key: &[u8]) -> bool {
            let Some(sig) = crate::unhex(&self.sig) else { return false };
            self.mac(key).is_some_and(|m| m.verify_slice(&sig).is_ok())
        }
    }

    /// Several uploads in one REST request (or one MQTT message).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Batch {
        /// The uploads, in any order (newest first after an outage, then the backlog).
        pub uploads: Vec<Upload>,
    }

    /// What happened to each upload of a batch. Only what is durably stored is `stored`.
    #[derive(
        Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
    )]
    pub struct Receipt {
        /// Sequence numbers stored now.
        pub stored: Vec<u64>,
        /// Sequence numbers that were already stored with the same content (a retry): safe.
        pub duplicates: Vec<u64>,
        /// Uploads refused, with the reason.
        pub rejected: Vec<Rejected>,
    }

    impl Receipt {
        /// Whether this receipt answers the uploads numbered `seqs`: it speaks of each of
        /// them and of no other. How a dongle tells its message's receipt on
        /// [`receipt_topic`] from one for an earlier message.
        pub fn answers(&self, seqs: &[u64]) -> bool {
            let mut mine: Vec<u64> = seqs.to_vec();
            let mut told: Vec<u64> = self
                .stored
                .iter()
                .chain(&self.duplicates)
                .copied()
                .chain(self.rejected.iter().map(|r| r.seq))
                .collect();
            mine.sort_unstable();
            told.sort_unstable();
            mine == told
        }
    }

    /// One refused upload.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
    pub struct Rejected {
        /// Its sequence number.
        pub seq: u64,
        /// Why, as a stable code.
        pub code: RejectCode,
        /// Why, for a person.
        pub message: String,
    }

    /// Why the platform refused an upload. A refused upload is never sent again.
    #[derive(
        Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
    )]
    #[serde(rename_all = "snake_case")]
    pub enum RejectCode {
        /// No store could keep it (a NUL character in its text), or it came on another
        /// dongle's MQTT topic.
        Malformed,
        /// The dongle is not registered.
        UnknownDongle,
        /// Its HMAC does not verify with the dongle's key: forged, damaged, or another key.
        BadSignature,
        /// Its sequence number is already stored with other content (a conflict: a replayed
        /// or reused sequence number).
        Replay,
    }

    impl RejectCode {
        /// The code as it appears in JSON.
        pub fn as_str(self) -> &'static str {
            match self {
                RejectCode::Malformed => "malformed",
                RejectCode::UnknownDongle => "unknown_dongle",
                RejectCode::BadSignature => "bad_signature",
                RejectCode::Replay => "replay",
            }
        }

        /// Whether the platform refused the dongle itself (unknown or forged), not one
        /// upload's content.
        pub fn is_unauthorized(self) -> bool {
            matches!(self, RejectCode::UnknownDongle | RejectCode::BadSignature)
        }
    }

    /// Quarter-hour records of an AMR meter, delivered by the grid operator's head-end in
    /// daily batches (R-DAT-2). Energies in Wh and varh.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct AmrBatch {
        /// The meter (access point) id.
        pub meter: String,
        /// Closed quarter hours.
        pub quarters: Vec<AmrQuarter>,
    }

    /// One AMR quarter hour: the domain's own type, as the meter records it.
    pub use domain::AmrQuarter;
}

#[cfg(test)]
mod tests {
    use super::v1::*;

    fn upload() -> Upload {
        Upload {
            dongle: "D-0001".into(),
            seq: 42,
            captured_at: "2026-06-01T10:00:00Z".parse().unwrap(),
            telegram: "/FLU5\\x\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!1234\r\n".into(),
            crc_ok: true,
            sig: String::new(),
        }
    }

    #[test]
    fn signature_verifies_and_any_change_breaks_it() {
        let key = b"dongle-key-0001";
        let mut u = upload();
        u.sign(key);
        assert!(u.verify(key));
        assert!(!u.verify(b"another key"));
        let mut forged = u.clone();
        forged.telegram = forged.telegram.replace("000001", "000002");
        assert!(!forged.verify(key));
        let mut forged = u.clone();
        forged.seq = 43;
        assert!(!forged.verify(key));
        let mut garbage = u.clone();
        garbage.sig = "zz".into();
        assert!(!garbage.verify(key));
    }

    #[test]
    fn json_round_trip_and_unknown_fields_refused() {
        let mut u = upload();
        u.sign(b"k");
        let json = serde_json::to_string(&Batch { uploads: vec![u.clone()] }).unwrap();
        let back: Batch = serde_json::from_str(&json).unwrap();
        assert_eq!(back.uploads[0], u);
        assert!(back.uploads[0].verify(b"k"));
        assert!(serde_json::from_str::<Upload>(r#"{"dongle":"x","seq":1,"captured_at":"2026-01-01T00:00:00Z","telegram":"","crc_ok":true,"sig":"","extra":1}"#).is_err());
        assert_eq!(dongle_of_topic(&topic("D-7")), Some("D-7"));
        assert_eq!(dongle_of_topic(&receipt_topic("D-7")), None, "no receipt is an upload");
    }

    #[test]
    fn a_receipt_answers_exactly_its_own_uploads() {
        let rejected = |seq| Rejected { seq, code: RejectCode::Replay, message: String::new() };
        let r = Receipt { stored: vec![3, 1], duplicates: vec![2], rejected: vec![rejected(4)] };
        assert!(r.answers(&[1, 2, 3, 4]));
        assert!(r.answers(&[4, 3, 2, 1]), "in any order");
        assert!(!r.answers(&[1, 2, 3]), "speaks of an upload not sent");
        assert!(!r.answers(&[1, 2, 3, 4, 5]), "leaves one out");
        assert!(!Receipt::default().answers(&[1]));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""code":"replay""#), "{json}");
        assert!(
            serde_json::from_str::<Rejected>(r#"{"seq":1,"code":"nope","message":""}"#).is_err()
        );
        for c in [RejectCode::Malformed, RejectCode::UnknownDongle, RejectCode::BadSignature] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
