// `sqlx::migrate!` embeds the migration files when this crate compiles; without this line Cargo
// would not notice a new or edited migration and keep a build without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
