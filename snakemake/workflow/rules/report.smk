rule report:
    input:
        scores=rules.merge.output.scores,
        manifest=rules.extract_seqs.output.manifest,
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
        # The check-cache and predict JSON summaries under it: sequences cached/computed, time per step.
        results=RESULTS,
    shell:
        "{params.bin} report --quiet --scores {input.scores:q} --manifest {input.manifest:q} "
        "--work-dir {params.results:q} --out {output.html:q} > /dev/null 2> {log:q}"
