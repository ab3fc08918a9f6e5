// DEMO_DATA: the built-in demo inputs (`enformer-vep demo-data`): a generated three-contig genome with its .fai
// and a Kunkle-layout GWAS table. Used by `-profile test` when no `variants`/`genome` are given.
process DEMO_DATA {
    tag "demo"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    output:
    path "demo/variants.kunkle.txt", emit: variants
    path "demo/genome.fa"          , emit: genome
    path "demo/genome.fa.fai"      , emit: fai
    path "versions.yml"            , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def args = task.ext.args ?: ''
    """
    ${bin} demo-data --out-dir demo ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    mkdir -p demo
    printf 'MarkerName\\tChromosome\\tPosition\\tEffect_allele\\tNon_Effect_allele\\tBeta\\tSE\\tPvalue\\n' > demo/variants.kunkle.txt
    printf '>chr1\\nACGT\\n' > demo/genome.fa
    printf 'chr1\\t4\\t6\\t4\\t5\\n' > demo/genome.fa.fai

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
