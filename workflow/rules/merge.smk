rule merge:
    input:
        variants=rules.extract_seqs.output.variants,
        model=config["model"],
        namespace=NAMESPACE_FILE,
        check_cache=check_cache_summaries,
        predict=predict_summaries,
    output:
        scores=f"{RESULTS}/scores.parquet",
        tracks=f"{RESULTS}/scores.tracks.tsv",
        # Rows in and scored, wall and busy time: read by the report's run summary.
        summary=f"{RESULTS}/merge.json",
    log:
        f"{LOGS}/merge.log",
    container:
        container_for("merge")
    threads: CPU_RESOURCES["threads"]
    resources:
        mem_mb=CPU_RESOURCES["mem_mb"],
        runtime=CPU_RESOURCES["runtime"],
    params:
        bin=BIN,
        namespace=NAMESPACE,
        flags=flags("stats", "targets", "tracks", "legacy_cache"),
    shell:
        "{params.bin} merge --quiet --variants {input.variants:q} --out {output.scores:q} "
        "--summary {output.summary:q} --threads {threads} "
        "{params.namespace} {params.flags} > /dev/null 2> {log:q}"
