//! `e2-asn1-gen ASN1_DIR OUT_DIR`: writes the generated bindings (see the library docs).

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(asn1), Some(out)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: e2-asn1-gen ASN1_DIR OUT_DIR");
    };
    let out = PathBuf::from(out);
    for (file, text) in e2_asn1_gen::generate(&PathBuf::from(asn1))? {
        let path = out.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
