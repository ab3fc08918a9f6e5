// REPORT: scores.parquet + the steps' records → report.html, one self-contained HTML file (run summary with
// the sequences cached and computed and the time per step, top variants, effect distributions, genome-wide
// overview, locus views). Optional: params.report. The records are staged into records/, where
// `report --work-dir` finds them by content: extract-seqs' manifest.json and variants.parquet (inputs,
// statuses, the rows not scored in the locus views), every CHECK_CACHE summary (SHARD.json), every PREDICT
// summary (SHARD.predict.json) and MERGE's summary (PREFIX.json). Their names differ by construction, so
// none can overwrite another (Nextflow fails the task on a name collision rather than stage it).
process REPORT {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    tuple val(meta), path(scores)       // scores.parquet from MERGE
    path records, stageAs: 'records/*'  // manifest.json + variants.parquet from EXTRACT_SEQS, the CHECK_CACHE, PREDICT and MERGE summaries

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}.html"), emit: html
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def extra = task.ext.args ?: ''
    """
    ${bin} report \\
        --quiet \\
        --scores "${scores}" \\
        --work-dir records \\
        --out ${prefix}.html \\
        ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.html
    """
}
