rule report:
    input:
        scores=rules.merge.output.scores,
        manifest=rules.extract_seqs.output.manifest,
        # The step records the run summary reads (sequences cached/computed, time per step), all under
        # RESULTS or one folder down: extract/manifest.json + variants.parquet, todo/*.json, predict/*.json,
        # merge.json. Declared so the report runs after every one of them is written.
        variants=rules.extract_seqs.output.variants,
        check_cache=check_cache_summaries,
        predict=predict_summaries,
        merge=rules.merge.output.summary,
    output:
        html=f"{RESULTS}/report.html",
    log:
        f"{LOGS}/report.log",
    container:
        container_for("report")
    threads: 1
    resources:
        mem_mb=CPU_RESOURCES["mem_mb"],
        runtime=CPU_RESOURCES["runtime"],
    params:
        bin=BIN,
        # The folder holding the step records above (report finds them by content, one level down at most):
        # RESULTS, where merge.json is.
        results=lambda wildcards, input: str(Path(input.merge).parent),
    shell:
        "{params.bin} report --quiet --scores {input.scores:q} --manifest {input.manifest:q} "
        "--work-dir {params.results:q} --out {output.html:q} > /dev/null 2> {log:q}"
