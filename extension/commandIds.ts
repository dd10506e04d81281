/**
 * Every command id eBPF Studio registers or runs, in one table. package.json's
 * contributes.commands lists exactly these, and its menus name no other
 * (test/unit/commandIds.test.ts), so a command cannot be registered without a title nor shown
 * without a handler. Plain data without `vscode`, so that test reads it headless.
 */
export const Commands = {
  // Targets and verification
  selectTarget: 'ebpfStudio.selectTarget',
  reconnect: 'ebpfStudio.reconnect',
  verifyCurrentFile: 'ebpfStudio.verifyCurrentFile',
  showVerifierLog: 'ebpfStudio.showVerifierLog',
  toggleVerifierCoverage: 'ebpfStudio.toggleVerifierCoverage',
  /** The quick fix that writes a load preset into ebpfStudio.loadPresets (arguments: file, preset hint). */
  setLoadPreset: 'ebpfStudio.setLoadPreset',
  writeClangdConfiguration: 'ebpfStudio.writeClangdConfiguration',
  /** The New Program wizard: a template, its parameters, a folder. */
  newProgram: 'ebpfStudio.newProgram',
  // Running programs
  attachProgram: 'ebpfStudio.attachProgram',
  attachFile: 'ebpfStudio.attachFile',
  detachProgram: 'ebpfStudio.detachProgram',
  detachRun: 'ebpfStudio.detachRun',
  detachAll: 'ebpfStudio.detachAll',
  showEvents: 'ebpfStudio.showEvents',
  showTrace: 'ebpfStudio.showTrace',
  refreshMaps: 'ebpfStudio.maps.refresh',
  deleteMapEntry: 'ebpfStudio.maps.deleteEntry',
  loadMoreMapEntries: 'ebpfStudio.maps.loadMore',
  refreshExplorer: 'ebpfStudio.explorer.refresh',
  /** Detach from an Explorer item: a whole run, or one program of it. */
  detachExplorerItem: 'ebpfStudio.explorer.detach',
  // Kernel VMs
  startKernelVm: 'ebpfStudio.startKernelVm',
  stopKernelVm: 'ebpfStudio.stopKernelVm',
  showKernelVmConsoleLog: 'ebpfStudio.showKernelVmConsoleLog',
  // Kernel matrix
  verifyOnAllTargets: 'ebpfStudio.verifyOnAllTargets',
  chooseMatrixTargets: 'ebpfStudio.chooseMatrixTargets',
  showMatrixTargetDiagnostics: 'ebpfStudio.kernelMatrix.showTarget',
  showMergedMatrixDiagnostics: 'ebpfStudio.kernelMatrix.showMerged',
  // Verifier cost
  compareVerifierCost: 'ebpfStudio.compareVerifierCost',
} as const;
