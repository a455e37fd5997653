// swift-tools-version:6.0
// ZipAR-serve: LlamaGen image generation with ZipAR parallel decoding, served from a PostgreSQL job queue.
//
// Targets, bottom to top (each has one job):
//   CBLAS, CPNG   system libraries (OpenBLAS, libpng)
//   Kernels       every line of unsafe pointer code: matmul, attention, conv, norms, mmap, PNG codec
//   Model         safetensors, configs, the LlamaGen GPT forward pass and KV cache, the VQ decoder
//   Decoding      window policies (ntp, zipar, adaptive), seeded sampling, the continuous-batching scheduler
//   JobStore      PostgreSQL: migrations, submit, claim with leases, results (all SQL in one place)
//   executables   zipar, zipar-submit, zipar-worker, zipar-admin, zipar-bench
import PackageDescription

let package = Package(
    name: "ZipARServe",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "zipar", targets: ["ZiparCLI"]),
        .executable(name: "zipar-submit", targets: ["ZiparSubmit"]),
        .executable(name: "zipar-worker", targets: ["ZiparWorker"]),
        .executable(name: "zipar-admin", targets: ["ZiparAdmin"]),
        .executable(name: "zipar-bench", targets: ["ZiparBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .target(name: "CKernels"),   // AVX2/FMA/F16C loops + thread pool, runtime-dispatched
        .target(name: "Kernels", dependencies: ["CBLAS", "CPNG", "CKernels"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .target(name: "Model", dependencies: ["Kernels"]),
        .target(name: "Decoding", dependencies: ["Model", "Kernels"]),
        .target(name: "JobStore", dependencies: [
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "ZiparCLI", dependencies: [
            "Model", "Decoding", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "ZiparSubmit", dependencies: [
            "JobStore", "Model", "Decoding",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "ZiparWorker", dependencies: [
            "JobStore", "Model", "Decoding",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "ZiparAdmin", dependencies: [
            "JobStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "ZiparBench", dependencies: [
            "Model", "Decoding", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding"]),
        .testTarget(name: "JobStoreTests", dependencies: ["JobStore", "Decoding"]),
    ]
)
