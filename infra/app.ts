import { App } from 'aws-cdk-lib'
import { buildApp } from './cdk-app.js'

const app = new App()
await buildApp(app)
app.synth()
