//! The three frames librmr 4.9.4 wrote (`../shared/interop/vectors/rmr-frames.json`,
//! captured from its `examples/sender.c`): decoded, re-encoded, compared byte for byte
//! except where librmr leaves bytes undefined.

use nf_rmr::frame::{self, RMR_HDR_LEN, TP_HDR_LEN};
use nf_rmr::mtype;

fn vectors() -> Option<Vec<(String, Vec<u8>)>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/interop/vectors/rmr-frames.json"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("SKIP: {path} absent (the interop kit in ../shared is needed)");
        return None;
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("vectors are json");
    Some(
        v.as_array()
            .expect("an array")
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().expect("id").to_owned(),
                    hex::decode(e["hex"].as_str().expect("hex")).expect("hex decodes"),
                )
            })
            .collect(),
    )
}

#[test]
fn librmr_frames_decode_and_reencode() {
    let Some(frames) = vectors() else { return };
    assert_eq!(frames.len(), 3);
    for (id, bytes) in frames {
        let m = frame::decode(&bytes, 1 << 20).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(m.mtype, mtype::RIC_INDICATION, "{id}");
        assert_eq!(m.sub_id, frame::UNSET_SUBID, "{id}");
        assert_eq!(m.src, "vm:4565", "{id}");
        assert_eq!(m.srcip, "192.0.2.2:4565", "{id}");
        assert_eq!(m.meid, "", "{id}");
        assert!(m.xid.is_empty(), "{id}");
        assert_eq!(m.d1.len(), 4, "{id}: librmr reserves 4 bytes of d1");
        assert!(m.trace.is_empty() && m.d2.is_empty(), "{id}");
        let text = std::str::from_utf8(&m.payload).expect("sender.c writes text");
        assert!(
            text.starts_with("count=") && text.ends_with("cheer!\0"),
            "{id}: {text:?}"
        );
        assert_eq!(
            TP_HDR_LEN + RMR_HDR_LEN + 4 + m.payload.len(),
            bytes.len(),
            "{id}"
        );

        let again = frame::encode(&m, 1 << 20).expect("re-encodes");
        assert_eq!(again.len(), bytes.len(), "{id}");
        // Defined transport bytes: both lengths, the marker and the 4 zeroed bytes after it.
        assert_eq!(again[..13], bytes[..13], "{id}: transport header");
        // Bytes 13..50 are left as malloc gave them by librmr (frame0 carries stale bytes).
        // The whole RMR header, trace/data areas and payload are defined and must match.
        assert_eq!(
            again[TP_HDR_LEN..],
            bytes[TP_HDR_LEN..],
            "{id}: rmr header and payload"
        );
    }
}

#[test]
fn undefined_transport_bytes_do_not_matter() {
    let Some(frames) = vectors() else { return };
    let (_, f0) = &frames[0];
    assert!(
        f0[13..TP_HDR_LEN].iter().any(|&b| b != 0),
        "frame0 has stale bytes 13..50"
    );
    let mut cleaned = f0.clone();
    cleaned[13..TP_HDR_LEN].fill(0);
    assert_eq!(frame::decode(f0, 1 << 20), frame::decode(&cleaned, 1 << 20));
}

#[test]
fn every_truncation_of_a_real_frame_is_refused_with_a_kind() {
    let Some(frames) = vectors() else { return };
    let (_, f) = &frames[1];
    for cut in 0..f.len() {
        let e = frame::decode(&f[..cut], 1 << 20).expect_err("truncated");
        assert!(
            ["truncated"].contains(&e.kind()),
            "cut {cut}: {e} ({})",
            e.kind()
        );
    }
    // A smaller maximum than the frame: oversize, before anything else.
    assert_eq!(frame::decode(f, 100).unwrap_err().kind(), "oversize");
}

#[test]
fn hostile_headers_are_refused_by_name() {
    let Some(frames) = vectors() else { return };
    let (_, f) = &frames[1];
    let at = |off: usize| TP_HDR_LEN + off;
    let patch = |off: usize, v: i32| {
        let mut g = f.clone();
        g[at(off)..at(off) + 4].copy_from_slice(&v.to_be_bytes());
        frame::decode(&g, 1 << 20).unwrap_err().kind()
    };
    assert_eq!(patch(8, 2), "bad_version");
    assert_eq!(patch(8, 0x7fff_ffff), "bad_version");
    assert_eq!(patch(196, 100), "bad_header_len");
    assert_eq!(patch(200, -5), "negative_length");
    assert_eq!(patch(4, 0x7fff_ffff), "length_overrun");
    assert_eq!(patch(204, 1 << 30), "length_overrun");
    let mut g = f.clone();
    g[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(frame::decode(&g, 1 << 20).unwrap_err().kind(), "oversize");
    g[..4].copy_from_slice(&10u32.to_le_bytes());
    assert_eq!(frame::decode(&g, 1 << 20).unwrap_err().kind(), "too_short");
    let mut g = f.clone();
    g[at(76)] = 0xff;
    assert_eq!(frame::decode(&g, 1 << 20).unwrap_err().kind(), "bad_text");
}
