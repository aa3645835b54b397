// The CLI runs sandboxes, which exist only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
