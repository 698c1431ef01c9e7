//! Compiles the public protos with a vendored protoc, so a fresh machine needs
//! no system protoc.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build reads PROTOC; a build script is single-threaded.
    std::env::set_var("PROTOC", protoc);
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = [
        "proto/hotline/v1/common.proto",
        "proto/hotline/v1/media.proto",
        "proto/hotline/v1/agent.proto",
        "proto/hotline/v1/call.proto",
        "proto/hotline/v1/supervisor.proto",
        "proto/hotline/v1/callback.proto",
        "proto/hotline/v1/report.proto",
        "proto/hotline/v1/admin.proto",
        "proto/hotline/v1/session.proto",
        "proto/hotline/v1/audit.proto",
        "proto/hotline/v1/privacy.proto",
        "proto/hotline/v1/case.proto",
        "proto/hotline/cluster/v1/command.proto",
        "proto/hotline/cluster/v1/cluster.proto",
        "proto/hotline/cluster/v1/media.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("hotline_descriptor.bin"))
        .compile_protos(&protos, &["proto"])?;
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
