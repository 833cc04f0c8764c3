//! Qdrant's point ids: an unsigned integer or a UUID (JSON number or string), ordered as
//! Qdrant orders them — every integer before every UUID — which is the order `scroll` pages in.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

/// A point's id as the client gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PointId {
    /// An unsigned integer id.
    Num(u64),
    /// A UUID (any textual form on input, hyphenated lower case on output).
    Uuid(Uuid),
}

impl PointId {
    /// The id as the key of the `ids` table: a tag byte, then the big-endian integer or the
    /// UUID's 16 bytes, so the table's byte order is the id order.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            PointId::Num(n) => [&[0u8][..], &n.to_be_bytes()].concat(),
            PointId::Uuid(u) => [&[1u8][..], u.as_bytes()].concat(),
        }
    }

    /// The inverse of [`PointId::to_bytes`]; `None` for bytes it never produces.
    pub fn from_bytes(bytes: &[u8]) -> Option<PointId> {
        match (bytes.first(), bytes.len()) {
            (Some(0), 9) => Some(PointId::Num(u64::from_be_bytes(bytes[1..].try_into().ok()?))),
            (Some(1), 17) => Some(PointId::Uuid(Uuid::from_slice(&bytes[1..]).ok()?)),
            _ => None,
        }
    }
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Uuid(u) => write!(f, "{}", u.hyphenated()),
        }
    }
}

impl Serialize for PointId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PointId::Num(n) => s.serialize_u64(*n),
            PointId::Uuid(u) => s.collect_str(&u.hyphenated()),
        }
    }
}

impl<'de> Deserialize<'de> for PointId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = PointId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a point id: an unsigned integer or a UUID string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PointId, E> {
                Ok(PointId::Num(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PointId, E> {
                u64::try_from(v)
                    .map(PointId::Num)
                    .map_err(|_| E::custom(format!("point id {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PointId, E> {
                Uuid::parse_str(v)
                    .map(PointId::Uuid)
                    .map_err(|_| E::custom(format!("point id {v:?} is not a UUID")))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_keep_qdrants_order() {
        let ids = [
            PointId::Num(0),
            PointId::Num(7),
            PointId::Num(u64::MAX),
            PointId::Uuid(Uuid::from_u128(0)),
            PointId::Uuid(Uuid::from_u128(u128::MAX)),
        ];
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].to_bytes() < pair[1].to_bytes());
        }
        for id in ids {
            assert_eq!(PointId::from_bytes(&id.to_bytes()), Some(id));
        }
        assert_eq!(PointId::from_bytes(&[2, 0]), None);
    }

    #[test]
    fn json_accepts_integers_and_uuids_and_rejects_the_rest() {
        let id: PointId = serde_json::from_str("42").unwrap();
        assert_eq!(id, PointId::Num(42));
        let text = "\"550e8400-e29b-41d4-a716-446655440000\"";
        let id: PointId = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), text);
        let simple: PointId = serde_json::from_str("\"550e8400e29b41d4a716446655440000\"").unwrap();
        assert_eq!(simple, id);
        assert!(serde_json::from_str::<PointId>("-1").is_err());
        assert!(serde_json::from_str::<PointId>("\"x\"").is_err());
        assert!(serde_json::from_str::<PointId>("1.5").is_err());
    }
}
