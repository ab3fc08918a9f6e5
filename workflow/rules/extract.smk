checkpoint extract_seqs:
    input:
        variants=config["variants"],
        genome=config["genome"],
    output:
        variants=f"{RESULTS}/extract/variants.parquet",
        shards=directory(f"{RESULTS}/extract/shards"),
        manifest=f"{RESULTS}/extract/manifest.json",
    log:
        f"{LOGS}/extract_seqs.log",
    container:
        container_for("extract_seqs")
    threads: CPU_RESOURCES["threads"]
    resources:
        mem_mb=CPU_RESOURCES["mem_mb"],
        runtime=CPU_RESOURCES["runtime"],
    params:
        bin=BIN,
        out_dir=lambda wildcards, output: Path(output.manifest).parent,
        flags=flags(
            "shard_size",
            "columns",
            "max_pvalue",
            "top",
            "region",
            "window",
            "max_allele_len",
            "rc",
            "shifts",
        ),
    shell:
        "{params.bin} extract-seqs --quiet --variants {input.variants:q} --genome {input.genome:q} "
        "--out-dir {params.out_dir:q} --threads {threads} {params.flags} 2> {log:q}"
