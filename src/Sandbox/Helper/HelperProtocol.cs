namespace Sandboxing.Helper;

/// <summary>
/// The wire format between this library and sandbox-helper: the C# twin of
/// native/protocol.h (see that file and docs/helper-protocol.md for what each value means).
/// A test reads protocol.h and checks that every constant here has the same value.
/// </summary>
internal static class HelperProtocol
{
    public const int FdSpec = 3;
    public const int FdControl = 4;
    public const int FdFirstExtra = 5;
    public const uint SpecMagic = 0x53584253;
    public const int SpecVersion = 1;
    public const int SpecHeaderSize = 12;
    public const int SpecMaxSize = (64 * 1024 * 1024);
    public const int RecordHeaderSize = 8;
    public const int RecNamespaces = 1;
    public const int RecHostname = 2;
    public const int RecUidMap = 3;
    public const int RecGidMap = 4;
    public const int RecUser = 5;
    public const int RecRoot = 6;
    public const int RecMount = 7;
    public const int RecArg = 8;
    public const int RecEnv = 9;
    public const int RecCwd = 10;
    public const int RecTimeOffsets = 11;
    public const int RecTimeout = 12;
    public const int RecCgroupJoin = 13;
    public const int RecCgroupReturn = 14;
    public const int RecCgroupUnified = 15;
    public const int RecMaskPath = 16;
    public const int RecReadonlyPath = 17;
    public const int NsUser = 0x01;
    public const int NsPid = 0x02;
    public const int NsMount = 0x04;
    public const int NsNet = 0x08;
    public const int NsUts = 0x10;
    public const int NsIpc = 0x20;
    public const int NsCgroup = 0x40;
    public const int NsTime = 0x80;
    public const int NsAll = 0xff;
    public const int RootReadonly = 0x01;
    public const int MountBind = 1;
    public const int MountTmpfs = 2;
    public const int MountProc = 3;
    public const int MountDev = 4;
    public const int MountSysfs = 5;
    public const int MountfReadonly = 0x01;
    public const int MountfRecursive = 0x02;
    public const int MountfOptional = 0x04;
    public const int MountfNosuid = 0x08;
    public const int MountfNodev = 0x10;
    public const int MountfNoexec = 0x20;
    public const int MaxArgs = 65536;
    public const int MaxEnv = 65536;
    public const int MaxMounts = 1024;
    public const int MaxIdMaps = 340;
    public const int MaxPath = 4096;
    public const int MaxString = (128 * 1024);
    public const int MaxHostname = 64;
    public const int MaxCgroupPaths = 32;
    public const int MsgHeaderSize = 16;
    public const int MsgMaxDetail = 1024;
    public const int MsgError = 1;
    public const int MsgStarted = 2;
    public const int MsgExited = 3;
    public const int CmdSignal = 101;
    public const int CmdKill = 102;
    public const int ExitCode = 1;
    public const int ExitSignal = 2;
    /// <summary>Signals the helper forwards to the command (SIGHUP SIGINT SIGQUIT SIGUSR1 SIGUSR2 SIGALRM SIGTERM SIGCONT SIGWINCH).</summary>
    public static readonly int[] ForwardedSignals = [1, 2, 3, 10, 12, 14, 15, 18, 28];
    public const int ReasonExited = 0;
    public const int ReasonTimeout = 1;
    public const int ReasonKilled = 2;
    public const int StepSpecRead = 1;
    public const int StepSpecParse = 2;
    public const int StepClone = 3;
    public const int StepSetgroups = 4;
    public const int StepUidMap = 5;
    public const int StepGidMap = 6;
    public const int StepSync = 7;
    public const int StepHostname = 8;
    public const int StepLoopback = 9;
    public const int StepTimeNamespace = 10;
    public const int StepMountPrivate = 11;
    public const int StepRoot = 12;
    public const int StepMountTarget = 13;
    public const int StepMountBind = 14;
    public const int StepMountTmpfs = 15;
    public const int StepMountProc = 16;
    public const int StepMountDev = 17;
    public const int StepPivotRoot = 18;
    public const int StepChdir = 19;
    public const int StepSetUser = 20;
    public const int StepFork = 21;
    public const int StepExec = 22;
    public const int StepExecNotFound = 23;
    public const int StepSupervise = 24;
    public const int StepCgroup = 25;
    public const int StepMask = 26;
    public const int StepMountSysfs = 27;
}
