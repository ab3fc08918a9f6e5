// EXTRACT_SEQS: variant table + genome → variants.parquet (every input row, with status), shards of unique
// windows (the unit of parallelism) and manifest.json. Runs once.
process EXTRACT_SEQS {
    tag "${variants.name}"
    label 'process_medium'
    container 'enformer-vep:0.1.0'

    input:
    path variants     // GWAS table or VCF (plain, gzip or bgzip)
    path genome       // reference FASTA
    path genome_index // the genome's .fai (and .gzi), staged beside it under their own names; [] builds them
    val args          // extract-seqs flags (--shard-size, filters, --window)

    output:
    path "extract/variants.parquet"     , emit: variants
    path "extract/shards/shard-*.parquet", emit: shards, optional: true // none if no variant could be scored
    path "extract/manifest.json"        , emit: manifest
    path "versions.yml"                 , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def extra = task.ext.args ?: ''
    """
    ${bin} extract-seqs \\
        --variants "${variants}" \\
        --genome "${genome}" \\
        --out-dir extract \\
        --threads ${task.cpus} \\
        ${args} ${extra}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    mkdir -p extract/shards
    touch extract/variants.parquet extract/shards/shard-00000.parquet extract/shards/shard-00001.parquet
    echo '{"stub": true, "shards": []}' > extract/manifest.json

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
