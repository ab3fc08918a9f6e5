// REPORT: scores.parquet (+ extract-seqs' manifest.json) → report.html, one self-contained HTML file (run
// summary, top variants, effect distributions, genome-wide overview, locus views). Optional: params.report.
process REPORT {
    tag "${scores.name}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    path scores     // scores.parquet from MERGE
    path manifest   // manifest.json from EXTRACT_SEQS

    output:
    path "report.html" , emit: html
    path "versions.yml", emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def extra = task.ext.args ?: ''
    """
    ${bin} report \\
        --quiet \\
        --scores "${scores}" \\
        --manifest "${manifest}" \\
        --out report.html \\
        ${extra}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    touch report.html

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
