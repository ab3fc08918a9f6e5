//! Thin entry point (ripgrep-style): run, map the outcome to an exit code, print errors with their chain.

fn main() {
    enformer_vep::allocator::keep_large_buffers();
    let code = match enformer_vep::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            1
        }
    };
    std::process::exit(code);
}
