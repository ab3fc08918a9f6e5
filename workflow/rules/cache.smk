checkpoint check_cache:
    input:
        shard=f"{RESULTS}/extract/shards/{{shard}}.parquet",
        model=config["model"],
        namespace=NAMESPACE_FILE,
    output:
        todo=f"{RESULTS}/todo/{{shard}}.parquet",
        summary=f"{RESULTS}/todo/{{shard}}.json",
    log:
        f"{LOGS}/check_cache/{{shard}}.log",
    container:
        container_for("check_cache")
    threads: 1
    resources:
        mem_mb=CPU_RESOURCES["mem_mb"],
        runtime=CPU_RESOURCES["runtime"],
    params:
        bin=BIN,
        namespace=NAMESPACE,
        legacy=flags("legacy_cache"),
    shell:
        "{params.bin} check-cache --quiet --shard {input.shard:q} --out {output.todo:q} --summary {output.summary:q} "
        "--threads {threads} {params.namespace} {params.legacy} > /dev/null 2> {log:q}"
