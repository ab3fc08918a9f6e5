// DEMO_DATA: the built-in demo inputs (`enformer-vep demo-data`): a generated three-contig genome with its .fai
// and a Kunkle-layout GWAS table, in the folder PREFIX/ (task.ext.prefix, else meta.id). Used by
// `-profile test` when no `variants`/`genome` are given.
process DEMO_DATA {
    tag "${meta.id}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    val meta // [ id: 'demo' ]

    output:
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/variants.kunkle.txt"), emit: variants
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/genome.fa")          , emit: genome
    tuple val(meta), path("${task.ext.prefix ?: meta.id}/genome.fa.fai")      , emit: fai
    tuple val("${task.process}"), val('enformer-vep'), eval("${task.ext.binary ?: 'enformer-vep'} --version | sed 's/^enformer-vep //'"), emit: versions_enformer_vep, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def prefix = task.ext.prefix ?: "${meta.id}"
    def args = task.ext.args ?: ''
    """
    ${bin} demo-data --out-dir ${prefix} ${args}
    """

    stub:
    def prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    printf 'MarkerName\\tChromosome\\tPosition\\tEffect_allele\\tNon_Effect_allele\\tBeta\\tSE\\tPvalue\\n' > ${prefix}/variants.kunkle.txt
    printf '>chr1\\nACGT\\n' > ${prefix}/genome.fa
    printf 'chr1\\t4\\t6\\t4\\t5\\n' > ${prefix}/genome.fa.fai
    """
}
