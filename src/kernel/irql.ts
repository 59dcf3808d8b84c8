// Interrupt request levels of x64 Windows (wdm.h). One emulated CPU, so one current IRQL.
export const PASSIVE_LEVEL = 0
export const APC_LEVEL = 1
export const DISPATCH_LEVEL = 2
/** The level the emulated NIC's interrupt is delivered at (a device IRQL, 3..12 on x64). */
export const DEVICE_IRQL = 5
export const HIGH_LEVEL = 15

export type Irql = number

export function irqlName(irql: Irql): string {
  switch (irql) {
    case PASSIVE_LEVEL: return 'PASSIVE_LEVEL'
    case APC_LEVEL: return 'APC_LEVEL'
    case DISPATCH_LEVEL: return 'DISPATCH_LEVEL'
    case HIGH_LEVEL: return 'HIGH_LEVEL'
    default: return irql > DISPATCH_LEVEL && irql < HIGH_LEVEL ? `DIRQL(${irql})` : `IRQL ${irql}`
  }
}
