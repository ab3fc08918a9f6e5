// EXTRACT_SEQS: variant table + genome → variants.parquet (every input row, with status), shards of unique
// windows (the unit of parallelism) and manifest.json, all in the folder PREFIX/ (task.ext.prefix, else
// meta.id; the pipeline's conf/modules.config sets `extract`). Runs once.
process EXTRACT_SEQS {
    tag "${meta.id}"
    label 'process_medium'
    container 'enformer-vep:0.1.0'

    input:
    tuple val(meta), path(variants)                   // GWAS table or VCF (plain, gzip or bgzip)
    tuple val(meta2), path(genome), path(genome_index) // reference FASTA, and its .fai (and .gzi) staged beside it under their own names; [] builds them
    val args                                          // extract-seqs flags (--shard-size, filters, --window)

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/variants.parquet")      , emit: variants
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/shards/shard-*.parquet"), emit: shards, optional: true // none if no variant could be scored
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/manifest.json")         , emit: manifest
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def extra = task.ext.args ?: ''
    """
    ${bin} extract-seqs \\
        --variants "${variants}" \\
        --genome "${genome}" \\
        --out-dir ${prefix} \\
        --threads ${task.cpus} \\
        ${args} ${extra}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}/shards
    touch ${prefix}/variants.parquet ${prefix}/shards/shard-00000.parquet ${prefix}/shards/shard-00001.parquet
    echo '{"stub": true, "shards": []}' > ${prefix}/manifest.json
    """
}
