rule namespace:
    # Hashes the model once (1 GB for Enformer) into namespace.json; every check_cache, predict and merge job
    # then reads that small file instead of hashing the model again on the shared filesystem. A model changed
    # since is still caught: the steps compare its size and time stamps, and hash it again when they differ.
    input:
        model=config["model"],
    output:
        record=f"{RESULTS}/namespace.json",
    log:
        f"{LOGS}/namespace.log",
    container:
        container_for("check_cache")
    threads: 1
    resources:
        mem_mb=CPU_RESOURCES["mem_mb"],
        runtime=CPU_RESOURCES["runtime"],
    params:
        bin=BIN,
        flags=flags("head", "n_encoding", "store", "window", "center_bins"),
    shell:
        "{params.bin} namespace --quiet --model {input.model:q} {params.flags} --out {output.record:q} "
        "> /dev/null 2> {log:q}"
