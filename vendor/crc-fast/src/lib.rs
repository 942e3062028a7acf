//! The three checksums the AWS SDK's S3 client computes (CRC32, CRC32C and
//! CRC64/NVME, through `aws-smithy-checksums`), behind the part of
//! crates.io's `crc-fast` API that crate calls.
//!
//! Why not crc-fast itself: it picks its algorithm at run time from some
//! thirty CRC variants, so every function binary linked every variant's
//! tables and code (0.72 MB, 0.4 MB of it tables that do not compress),
//! though S3 asks for three. Here each of the three has one table set,
//! built at compile time by the `crc` crate (16 tables of 256 entries:
//! 64 KB in all), fast enough for tel's payloads (gigabytes a second).

use std::fmt;

use crc::{CRC_32_ISCSI, CRC_32_ISO_HDLC, CRC_64_NVME, Crc, Table};

type Crc32 = Crc<u32, Table<16>>;
type Crc64 = Crc<u64, Table<16>>;

static CRC32_ISO_HDLC: Crc32 = Crc32::new(&CRC_32_ISO_HDLC);
static CRC32_ISCSI: Crc32 = Crc32::new(&CRC_32_ISCSI);
static CRC64_NVME: Crc64 = Crc64::new(&CRC_64_NVME);

/// The CRC variants S3 uses, named as crc-fast names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrcAlgorithm {
    /// CRC-32/ISO-HDLC: S3's `CRC32`.
    Crc32IsoHdlc,
    /// CRC-32/ISCSI (Castagnoli): S3's `CRC32C`.
    Crc32Iscsi,
    /// CRC-64/NVME: S3's `CRC64NVME`.
    Crc64Nvme,
}

/// A checksum computed over data given in parts.
#[derive(Clone)]
pub struct Digest {
    algorithm: CrcAlgorithm,
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc::Digest<'static, u32, Table<16>>),
    Crc64(crc::Digest<'static, u64, Table<16>>),
}

impl Digest {
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        let state = match algorithm {
            CrcAlgorithm::Crc32IsoHdlc => State::Crc32(CRC32_ISO_HDLC.digest()),
            CrcAlgorithm::Crc32Iscsi => State::Crc32(CRC32_ISCSI.digest()),
            CrcAlgorithm::Crc64Nvme => State::Crc64(CRC64_NVME.digest()),
        };
        Self { algorithm, state }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(digest) => digest.update(data),
            State::Crc64(digest) => digest.update(data),
        }
    }

    /// The checksum of everything given so far; more may still be given.
    pub fn finalize(&self) -> u64 {
        match &self.state {
            State::Crc32(digest) => u64::from(digest.clone().finalize()),
            State::Crc64(digest) => digest.clone().finalize(),
        }
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest")
            .field("algorithm", &self.algorithm)
            .field("checksum", &self.finalize())
            .finish()
    }
}

/// The checksum of `data` in one call.
pub fn checksum(algorithm: CrcAlgorithm, data: &[u8]) -> u64 {
    match algorithm {
        CrcAlgorithm::Crc32IsoHdlc => u64::from(CRC32_ISO_HDLC.checksum(data)),
        CrcAlgorithm::Crc32Iscsi => u64::from(CRC32_ISCSI.checksum(data)),
        CrcAlgorithm::Crc64Nvme => CRC64_NVME.checksum(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CrcAlgorithm; 3] = [
        CrcAlgorithm::Crc32IsoHdlc,
        CrcAlgorithm::Crc32Iscsi,
        CrcAlgorithm::Crc64Nvme,
    ];

    /// The catalogue's check value of each algorithm: its CRC of
    /// "123456789" (reveng.sourceforge.io/crc-catalogue), and the values
    /// S3's documentation and crc-fast's own tests give for it.
    #[test]
    fn each_algorithm_gives_its_catalogued_check_value() {
        let check = |algorithm| checksum(algorithm, b"123456789");
        assert_eq!(check(CrcAlgorithm::Crc32IsoHdlc), 0xCBF4_3926);
        assert_eq!(check(CrcAlgorithm::Crc32Iscsi), 0xE306_9283);
        assert_eq!(check(CrcAlgorithm::Crc64Nvme), 0xAE8B_1486_0A79_9888);
    }

    /// A digest fed in parts of any size, and read in between, ends where
    /// one call over the whole ends (S3 bodies arrive in chunks).
    #[test]
    fn a_digest_fed_in_parts_agrees_with_one_call() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in ALL {
            for part in [1, 3, 15, 16, 17, 64, 255, 4096] {
                let mut digest = Digest::new(algorithm);
                for chunk in data.chunks(part) {
                    digest.update(chunk);
                    let _ = digest.finalize();
                }
                assert_eq!(
                    digest.finalize(),
                    checksum(algorithm, &data),
                    "{algorithm:?} in parts of {part}"
                );
            }
        }
    }

    /// This crate saves anything only while cargo links it: were a later
    /// aws-smithy-checksums to ask for a crc-fast version this one is not,
    /// cargo would set the patch aside with a warning (`[[patch.unused]]`)
    /// and link crates.io's again. The workspace's lock file says which.
    #[test]
    fn the_workspace_links_this_crate_not_crates_ios() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("the workspace's Cargo.lock");
        let entries: Vec<&str> = lock
            .split("[[package]]")
            .filter(|entry| entry.contains("name = \"crc-fast\""))
            .collect();
        assert_eq!(entries.len(), 1, "one crc-fast in Cargo.lock");
        assert!(
            !entries[0].contains("source = "),
            "crc-fast comes from a registry, not vendor/crc-fast: {}",
            entries[0]
        );
        assert!(
            !lock.contains("[[patch.unused]]"),
            "a patch cargo did not use"
        );
    }

    #[test]
    fn nothing_given_is_the_empty_checksum() {
        for algorithm in ALL {
            assert_eq!(Digest::new(algorithm).finalize(), 0, "{algorithm:?}");
        }
    }
}
