// REPORT: scores.parquet (+ extract-seqs' manifest.json) → report.html, one self-contained HTML file (run
// summary, top variants, effect distributions, genome-wide overview, locus views). Optional: params.report.
process REPORT {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    tuple val(meta), path(scores), path(manifest) // scores.parquet from MERGE, manifest.json from EXTRACT_SEQS

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
        --manifest "${manifest}" \\
        --out ${prefix}.html \\
        ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.html
    """
}
