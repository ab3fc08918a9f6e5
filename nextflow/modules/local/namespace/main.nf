// NAMESPACE: hash the ONNX model once (1 GB for Enformer) → namespace.json (the cache namespace, the model's
// SHA-256 and the model file's size and time stamps). CHECK_CACHE, PREDICT and MERGE take it as
// --namespace-file instead of each hashing the model again on the shared filesystem; they compare the staged
// model's size and time stamps with the record and hash it again only when they differ (a changed model is
// still caught).
process NAMESPACE {
    tag "${model.name}"
    label 'process_single'
    container 'enformer-vep:0.1.0'

    input:
    path model // the ONNX model
    val args   // namespace flags: --head --n-encoding --store --window --center-bins

    output:
    path "namespace.json", emit: record
    path "versions.yml"  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def bin = task.ext.binary ?: 'enformer-vep'
    def extra = task.ext.args ?: ''
    """
    ${bin} namespace \\
        --model "${model}" \\
        --out namespace.json \\
        ${args} ${extra} > /dev/null

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \$(${bin} --version | sed 's/^enformer-vep //')
    END_VERSIONS
    """

    stub:
    def bin = task.ext.binary ?: 'enformer-vep'
    """
    ${bin} namespace --model "${model}" --out namespace.json ${args} > /dev/null 2>&1 || touch namespace.json

    version=\$(${bin} --version 2>/dev/null | sed 's/^enformer-vep //') || true
    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        enformer-vep: \${version:-stub}
    END_VERSIONS
    """
}
