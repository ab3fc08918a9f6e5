rule predict:
    input:
        todo=f"{RESULTS}/todo/{{shard}}.parquet",
        model=config["model"],
        namespace=NAMESPACE_FILE,
    output:
        summary=f"{RESULTS}/predict/{{shard}}.json",
        manifest=f"{RESULTS}/predict/{{shard}}.predict.parquet",
    log:
        f"{LOGS}/predict/{{shard}}.log",
    container:
        container_for("predict")
    threads: PREDICT_RESOURCES["threads"]
    resources:
        mem_mb=PREDICT_RESOURCES["mem_mb"],
        runtime=PREDICT_RESOURCES["runtime"],
        # snakemake-executor-plugin-slurm turns these into --gpus=[MODEL:]1.
        gpu=1 if CUDA else 0,
        gpu_model=(config["gpu_model"] or "") if CUDA else "",
    params:
        bin=BIN,
        namespace=NAMESPACE,
        flags=flags("device", "batch_size"),
    shell:
        "{params.bin} predict --quiet --sequences {input.todo:q} --manifest {output.manifest:q} "
        "--summary {output.summary:q} --threads {threads} {params.namespace} {params.flags} > /dev/null 2> {log:q}"
