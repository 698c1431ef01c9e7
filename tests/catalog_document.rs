//! The catalog as a document: exported and imported whole (JSON Lines) or
//! the customer directory as CSV, through AdminService and the `hotline
//! admin` command. A bad line fails the import naming its line and field,
//! and nothing of it is stored.

mod common;

use common::*;
use hotline::auth::Role;
use hotline::client::catalog::{export, import, DocFormat};
use hotline::client::Clients;
use hotline::proto;

fn admin(s: &TestServer) -> Clients {
    s.clients(Role::Admin, "ada")
}

const CSV: &str = "id,name,tier,numbers,account_manager,contract,contract_expires
initech,Initech,key-account,+4401;+4402,bob,contract,2027-06-30
hooli,Hooli,potential,+4403,,free-period,
piedpiper,Pied Piper,,+4404,,,
";

async fn customer(s: &TestServer, id: &str) -> Option<proto::Customer> {
    admin(s)
        .admin
        .get_customer(proto::GetRequest { id: id.into() })
        .await
        .ok()
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_import_from_csv_and_route_by_their_tier() {
    let s = TestServer::start().await;
    let summary = import(&mut admin(&s), DocFormat::CustomersCsv, CSV.as_bytes().to_vec())
        .await
        .expect("imported");
    assert_eq!((summary.objects, summary.created, summary.updated), (3, 3, 0));
    let initech = customer(&s, "initech").await.expect("initech");
    assert_eq!(initech.tier, proto::Tier::KeyAccount as i32);
    assert_eq!(initech.numbers, ["+4401", "+4402"]);
    assert_eq!(
        (
            initech.account_manager.as_str(),
            initech.contract_expires.as_str()
        ),
        ("bob", "2027-06-30")
    );
    let call = s.start_call("+4402", "100").await;
    assert_eq!(
        (call.customer_id.as_str(), call.tier),
        ("initech", proto::Tier::KeyAccount as i32)
    );
    // The same file again changes nothing.
    let again = import(&mut admin(&s), DocFormat::CustomersCsv, CSV.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    // And the directory exports as it was imported (the seed's too).
    let out = String::from_utf8(export(&mut admin(&s), DocFormat::CustomersCsv).await.unwrap()).unwrap();
    assert!(
        out.starts_with("id,name,tier,numbers,account_manager,contract,contract_expires\n"),
        "{out}"
    );
    assert!(
        out.contains("initech,Initech,key-account,+4401;+4402,bob,contract,2027-06-30\n"),
        "{out}"
    );
    assert!(out.contains("bigco,,key-account,+1000,,none,\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_fails_the_import_naming_its_line_and_field_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let cases = [
        (CSV.replace("potential", "gold"), "line 3: tier"),
        (
            CSV.replace("2027-06-30", "2027-06-31"),
            "line 2: contract_expires",
        ),
        (CSV.replace("+4404", "+1000"), "line 4: numbers"),
        (CSV.replace(",bob,", ",nobody,"), "line 2: account_manager"),
        (CSV.replace("hooli", "initech"), "line 3"),
        (CSV.replace("id,name", "ident,name"), "line 1"),
    ];
    for (csv, named) in cases {
        let err = import(&mut admin(&s), DocFormat::CustomersCsv, csv.into_bytes())
            .await
            .expect_err(named);
        assert!(
            err.to_string().starts_with(named),
            "{err} should start with {named}"
        );
        for id in ["initech", "hooli", "piedpiper"] {
            assert!(customer(&s, id).await.is_none(), "{named}: {id} was not imported");
        }
    }
    assert!(
        customer(&s, "bigco").await.is_some(),
        "what was stored before is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_catalog_round_trips_between_deployments_keeping_phone_passwords() {
    let a = TestServer::start().await;
    let mut ada = admin(&a);
    ada.admin
        .create_reason_code(proto::CreateReasonCodeRequest {
            reason_code: Some(proto::ReasonCode {
                code: "coaching".into(),
                label: "Coaching".into(),
                active: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    import(&mut ada, DocFormat::CustomersCsv, CSV.as_bytes().to_vec())
        .await
        .unwrap();
    let document = export(&mut ada, DocFormat::JsonLines).await.unwrap();
    let text = String::from_utf8(document.clone()).unwrap();
    assert!(!text.contains("dave-phone-pw"), "passwords are not exported");
    // Another deployment, seeded from the same file, takes it whole.
    let b = TestServer::start().await;
    let summary = import(&mut admin(&b), DocFormat::JsonLines, document)
        .await
        .expect("imported");
    assert!(summary.created >= 4, "{summary:?}");
    assert_eq!(
        export(&mut admin(&b), DocFormat::JsonLines).await.unwrap(),
        text.as_bytes()
    );
    let dave = admin(&b)
        .admin
        .get_agent_profile(proto::GetRequest { id: "dave".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(
        dave.has_sip_password,
        "an exported agent keeps the stored password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_command_imports_and_exports_files() {
    let s = TestServer::start().await;
    let addr = s.server.as_ref().unwrap().addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, CSV).unwrap();
    let token = s.token(Role::Admin, "ops");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(args)
            .env("HOTLINE_TOKEN", &token)
            .output()
            .expect("hotline runs")
    };
    let out = run(&["admin", "import", file.to_str().unwrap(), "--server", &addr]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3 objects: 3 created, 0 updated, 0 unchanged"
    );
    let exported = dir.path().join("catalog.jsonl");
    let out = run(&[
        "admin",
        "export",
        "--out",
        exported.to_str().unwrap(),
        "--server",
        &addr,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.lines().any(|l| l.contains("\"initech\"")), "{text}");
    // A bad file: the command fails naming the line.
    std::fs::write(&file, CSV.replace("potential", "gold")).unwrap();
    let out = run(&["admin", "import", file.to_str().unwrap(), "--server", &addr]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3: tier"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_uploads_a_document_larger_than_a_grpc_message_in_one_request_and_only_an_admin_may() {
    let s = TestServer::start().await;
    // Over gRPC's usual 4 MiB: 20,000 customers with long names.
    let mut csv = String::from("id,name,tier,numbers,account_manager,contract,contract_expires\n");
    for i in 0..20_000 {
        csv.push_str(&format!("c{i},{},regular,+9{i:08},,none,\n", "n".repeat(240)));
    }
    assert!(csv.len() > 4 * 1024 * 1024, "{} bytes", csv.len());
    let upload = |format: proto::DocumentFormat| proto::UploadCatalogRequest {
        format: format as i32,
        data: csv.clone().into_bytes(),
    };

    let refused = s
        .clients(Role::Supervisor, "sam")
        .admin
        .upload_catalog(upload(proto::DocumentFormat::CustomersCsv))
        .await
        .expect_err("supervisors read the catalog, they do not import");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused}");
    let mut anonymous = proto::admin_service_client::AdminServiceClient::new(s.channel.clone());
    let refused = anonymous
        .upload_catalog(upload(proto::DocumentFormat::CustomersCsv))
        .await
        .expect_err("no token, no import");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused}");
    assert!(customer(&s, "c0").await.is_none());

    let summary = admin(&s)
        .admin
        .upload_catalog(upload(proto::DocumentFormat::CustomersCsv))
        .await
        .expect("an admin's upload is imported")
        .into_inner();
    assert_eq!((summary.objects, summary.created), (20_000, 20_000));
    let last = customer(&s, "c19999").await.expect("the last row");
    assert_eq!(last.numbers, ["+900019999"]);
}
