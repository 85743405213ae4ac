// `sqlx::migrate!` embeds the migration files at compile time, but cargo does not know about a
// new file in the folder: without this, a build keeps the old list of migrations.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
