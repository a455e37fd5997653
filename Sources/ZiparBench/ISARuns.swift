import ArgumentParser
import Foundation
import Kernels

/// `--isa avx2,avx512`: one run of the benchmark per instruction set, each in a fresh process, since
/// the kernels, OpenBLAS and PyTorch all pick their code once at start-up. Each child gets the caps
/// for all three: `ZK_ISA` for ours, `OPENBLAS_CORETYPE` (Haswell for avx2, so OpenBLAS does not run
/// AVX-512 kernels inside an "AVX2" row), and `ATEN_CPU_CAPABILITY` + `ONEDNN_MAX_CPU_ISA` for the
/// PyTorch side-by-side. An AVX-512 machine thus measures both ISAs' tables in one run.
enum InstructionSetRuns {
    /// The environment a child for `isa` runs under (on top of the parent's).
    static func environment(for isa: String, base: [String: String]) -> [String: String] {
        var env = base
        env["ZK_ISA"] = isa
        switch isa {
        case "avx2", "avx2-vnni":   // AVX-VNNI is ours only: OpenBLAS and PyTorch have no AVX2 int8 path we run
            env["OPENBLAS_CORETYPE"] = "Haswell"
            env["ATEN_CPU_CAPABILITY"] = "avx2"
            env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        case "avx512":
            env["OPENBLAS_CORETYPE"] = base["OPENBLAS_CORETYPE"] ?? "SkylakeX"
            env["ATEN_CPU_CAPABILITY"] = "avx512"
            env["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE"
        default:   // scalar: our portable loops; OpenBLAS and PyTorch at their most generic
            env["OPENBLAS_CORETYPE"] = "Prescott"
            env["ATEN_CPU_CAPABILITY"] = "default"
            env["ONEDNN_MAX_CPU_ISA"] = "SSE41"
        }
        env["ZK_BLAS_FIX"] = "0"   // the core above is chosen on purpose
        return env
    }

    /// The arguments without `--isa` (both spellings), with `--json PATH` made per-ISA (`PATH` ->
    /// `PATH-avx2.json` style) so the runs do not overwrite each other.
    static func childArguments(_ args: [String], isa: String) -> [String] {
        var out: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--isa" { i += 2; continue }
            if a.hasPrefix("--isa=") { i += 1; continue }
            if a == "--json", i + 1 < args.count { out += [a, perISA(args[i + 1], isa)]; i += 2; continue }
            if a.hasPrefix("--json=") { out.append("--json=" + perISA(String(a.dropFirst(7)), isa)); i += 1; continue }
            out.append(a); i += 1
        }
        return out
    }

    static func perISA(_ path: String, _ isa: String) -> String {
        path.hasSuffix(".json") ? String(path.dropLast(5)) + "-\(isa).json" : path + "-\(isa)"
    }

    /// Runs this executable once per ISA, streaming each child's output; the exit status is the worst.
    static func run(isas: [String]) -> Int32 {
        let exe = currentExecutable()
        let supported = KernelRuntime.supportedInstructionSet
        let rank = ["scalar": 0, "avx2": 1, "avx2-vnni": 1, "avx512": 2]
        var worst: Int32 = 0
        for isa in isas {
            if (rank[isa] ?? 0) > (rank[supported] ?? 0) {
                emit("== ISA \(isa): skipped: this CPU supports \(supported)\n")
                continue
            }
            if isa == "avx2-vnni" && !KernelRuntime.supportsAVXVNNI {
                emit("== ISA \(isa): skipped: this CPU has no AVX-VNNI\n")
                continue
            }
            emit("== ISA \(isa) (a fresh process: ZK_ISA=\(isa), OpenBLAS and PyTorch capped the same way)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = childArguments(Array(CommandLine.arguments.dropFirst()), isa: isa)
            p.environment = environment(for: isa, base: ProcessInfo.processInfo.environment)
            do { try p.run() } catch { emit("cannot start \(exe): \(error)"); return 1 }
            p.waitUntilExit()
            worst = max(worst, p.terminationStatus)
        }
        return worst
    }
}

/// An instruction set `--isa` names.
enum ISAName: String, ExpressibleByArgument, CaseIterable {
    case scalar, avx2, avx2VNNI = "avx2-vnni", avx512
}

/// A `--vq-convolutions` entry: a `ZK_CONV_ALGO` spelling.
struct ConvModeArgument: ExpressibleByArgument {
    var mode: ConvPlanner.Mode
    init(mode: ConvPlanner.Mode) { self.mode = mode }
    init?(argument: String) {
        guard let m = ConvPlanner.Mode(argument) else { return nil }
        mode = m
    }
    var defaultValueDescription: String { "\(mode)" }
}
