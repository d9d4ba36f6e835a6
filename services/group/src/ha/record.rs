//! A group's record as stored in etcd: JSON, compressed once it is large. etcd takes at most
//! 1.5 MiB in one request by default, and the state of a group of thousands being created
//! lists every provision in flight (about 180 bytes each as JSON, a tenth of that compressed).

use crate::ports::Record;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use std::io::{Read, Write};

/// The mark of a compressed record (JSON always starts with `{`).
const COMPRESSED: &[u8] = b"ikz1";

/// Records larger than this are compressed.
const COMPRESS_ABOVE: usize = 16 * 1024;

/// The largest record written: a little under etcd's default request limit.
pub const MAX_RECORD: usize = 1_400_000;

/// Encodes a record for etcd.
pub fn encode(id: &str, record: &Record) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    if json.len() <= COMPRESS_ABOVE {
        return Ok(json);
    }
    let mut z = ZlibEncoder::new(COMPRESSED.to_vec(), Compression::fast());
    z.write_all(&json).map_err(|e| e.to_string())?;
    let out = z.finish().map_err(|e| e.to_string())?;
    if out.len() > MAX_RECORD {
        return Err(format!(
            "the state of group {id:?} is {} bytes compressed, more than etcd takes in one request by default; start etcd with a larger --max-request-bytes, or split the group",
            out.len()
        ));
    }
    Ok(out)
}

/// Decodes a record read from etcd.
pub fn decode(bytes: &[u8]) -> Result<Record, String> {
    match bytes.strip_prefix(COMPRESSED) {
        Some(z) => {
            let mut json = Vec::new();
            ZlibDecoder::new(z)
                .read_to_end(&mut json)
                .map_err(|e| format!("a compressed group record cannot be read: {e}"))?;
            serde_json::from_slice(&json).map_err(|e| e.to_string())
        }
        None => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infrakit_group_core::GroupState;

    #[test]
    fn small_records_stay_json_and_large_ones_round_trip_compressed() {
        let small = Record {
            spec: serde_json::json!({"ID": "g"}),
            state: GroupState::default(),
        };
        let b = encode("g", &small).unwrap();
        assert_eq!(b[0], b'{');
        assert_eq!(decode(&b).unwrap(), small);
        let big = Record {
            spec: serde_json::json!({"ID": "g", "Note": "x".repeat(100_000)}),
            state: GroupState::default(),
        };
        let b = encode("g", &big).unwrap();
        assert!(b.starts_with(COMPRESSED) && b.len() < 10_000, "{}", b.len());
        assert_eq!(decode(&b).unwrap(), big);
        assert!(decode(b"ikz1garbage").is_err());
    }
}
